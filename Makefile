# orgsync — plain Makefile with pkg-config.
SHELL := /bin/bash
#   make          build build/orgsync
#   make check    install what the tests need, check the layers, lint, then every test (plain,
#                 on PostgreSQL too, ASan+UBSan, valgrind, fuzz, the web UI in chromium); warnings
#                 are errors
#   make demo     install, build, run the sample org through the tool
#   make bench    benchmarks (bench/README.md)
#   make fuzz     each fuzz target for FUZZ_SECONDS
#   make lint     clang-tidy and cppcheck
#   make install  binary and man page under PREFIX
#   make windows  build-win/orgsync.exe, the client for Windows (docs/windows.md)
#   make windows-check  orgsync.exe under wine, against the Linux build (make check runs it)
#   make deb      the Debian package; make deb-check tests it (make check runs it)
#   make dist     the .deb and the Windows zip, with SHA256SUMS, in build/dist

PREFIX   ?= /usr/local
MODE     ?= release
CC       ?= cc
PKG_CONFIG ?= pkg-config

ifeq ($(MODE),asan)
BUILD    ?= build-asan
MODEFLAGS = -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
MODELD    = -fsanitize=address,undefined
else ifeq ($(MODE),fuzz)
BUILD    ?= build-fuzz
CC        = clang
MODEFLAGS = -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
MODELD    = -fsanitize=address,undefined
else
BUILD    ?= build
MODEFLAGS = -O2 -g
MODELD    =
endif

WARN     = -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes -Wmissing-prototypes \
           -Wvla -Wformat=2 -Wconversion
ifeq ($(CI),true)
WARN    += -Werror
endif
# Windows-only sources, built by `make windows` (see below).
WIN_ONLY = %_win.c %_winhttp.c
PKGS     = yajl sqlite3 libpq libsodium jansson libmicrohttpd libcurl
CPPFLAGS += -Isrc -D_GNU_SOURCE
CFLAGS   += -std=c11 $(WARN) $(MODEFLAGS) $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) -lcsv -lm -lpthread
LDFLAGS  += $(MODELD)

# One archive per layer (src/LAYER/, subdirectories included), linked from the top
# down: the linker searches each archive once, so a layer that calls into one above
# it fails to link unless something higher up already pulled that code in; make
# layers catches every such call from the archives' symbols (scripts/check-layers.sh,
# which also says which layer may use which).
LAYER_ORDER = server client sync store ingest format plan model util
LAYERS   = $(foreach l,$(LAYER_ORDER),$(if $(wildcard src/$(l)/*.c),$(l)))
layer_src = $(filter-out $(WIN_ONLY), $(wildcard src/$(1)/*.c src/$(1)/*/*.c))
LIB_SRC  = $(foreach l,$(LAYERS),$(call layer_src,$(l)))
CLI_SRC  = $(wildcard src/cli/*.c)
# Files built into the binary (src/server/embed.h): the web UI and the API's description.
EMBED    = $(sort $(wildcard web/*.html web/*.js web/*.css)) src/server/openapi.json
CLI_OBJ  = $(CLI_SRC:%.c=$(BUILD)/%.o)
LIB      = $(LAYERS:%=$(BUILD)/lib/%.a)
BIN      = $(BUILD)/orgsync

UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC = $(wildcard fuzz/fuzz_*.c)
FUZZ_BIN = $(FUZZ_SRC:fuzz/%.c=build-fuzz/%)
BENCH_SRC = $(wildcard bench/*.c)
BENCH_BIN = $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

FUZZ_SECONDS ?= 20
# Leaks inside third-party libraries that sanitizer runs must not fail on.
export LSAN_OPTIONS ?= suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0
SHARED   ?= $(abspath ../shared)

.PHONY: all libs check layers test unit cli-tests e2e pg-check browser valgrind deps deps-dev demo bench fuzz fuzz-check lint install clean FORCE \
        windows windows-check deb deb-check dist

all: $(BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/gen/embedded.c: $(EMBED) scripts/embed.sh
	@mkdir -p $(dir $@)
	scripts/embed.sh $(EMBED) >$@.tmp && mv $@.tmp $@

$(BUILD)/gen/embedded.o: $(BUILD)/gen/embedded.c
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

define layer_archive
$(BUILD)/lib/$(1).a: $(patsubst %.c,$(BUILD)/%.o,$(call layer_src,$(1))) $(if $(filter server,$(1)),$(BUILD)/gen/embedded.o)
	@mkdir -p $$(dir $$@)
	@rm -f $$@
	$$(AR) rcs $$@ $$^
endef
$(foreach l,$(LAYERS),$(eval $(call layer_archive,$(l))))

libs: $(LIB)

$(BIN): $(CLI_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(LIB) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Itests $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS) -lcmocka

$(BUILD)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# The fuzz archives have their own flags: a sub-make keeps each current (the
# layers share no object, so two may run at once), and a target relinks when
# one changed.
FUZZ_LIB = $(LAYERS:%=build-fuzz/lib/%.a)
ifneq ($(MODE),fuzz)
$(FUZZ_LIB): FORCE
	$(MAKE) --no-print-directory MODE=fuzz $@
endif

build-fuzz/fuzz_%: fuzz/fuzz_%.c $(FUZZ_LIB)
	clang $(CPPFLAGS) -std=c11 $(WARN) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o $@ $< \
		$(FUZZ_LIB) $(shell $(PKG_CONFIG) --libs $(PKGS)) -lcsv -lm

deps:
	@scripts/install-deps.sh test

deps-dev:
	@scripts/install-deps.sh dev

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do \
		echo "== $$t"; ORGSYNC_TESTDATA=tests/data SHARED=$(SHARED) $$t; done

cli-tests: $(BIN)
	@ORGSYNC=$(abspath $(BIN)) tests/cli/run.sh

e2e: $(BIN)
	@ORGSYNC=$(abspath $(BIN)) tests/e2e/run.sh

# The storage, sync engine and end-to-end suites again on PostgreSQL, each test on a
# database of its own in a throwaway cluster (scripts/pg-cluster.sh), stopped even when
# a suite fails. Every suite runs; any failure fails the target.
PG_UNIT  = $(filter %/test_store %/test_sync,$(UNIT_BIN))
pg-check: $(BIN) $(PG_UNIT)
	@dir=$$(mktemp -d "$${TMPDIR:-/tmp}/orgsync-pg.XXXXXX") && \
	trap 'scripts/pg-cluster.sh stop "$$dir/cluster"; rm -rf "$$dir"' EXIT && \
	url=$$(scripts/pg-cluster.sh start "$$dir/cluster") || exit 1; \
	failed=; \
	for t in $(PG_UNIT); do echo "== $$t on PostgreSQL"; \
		ORGSYNC_TEST_DB=$$url ORGSYNC_TESTDATA=tests/data SHARED=$(SHARED) $$t || \
		failed="$$failed $$(basename $$t)"; done; \
	ORGSYNC_DB=postgres ORGSYNC_TEST_DB=$$url ORGSYNC=$(abspath $(BIN)) tests/cli/run.sh || \
		failed="$$failed cli"; \
	ORGSYNC_DB=postgres ORGSYNC_TEST_DB=$$url ORGSYNC=$(abspath $(BIN)) tests/e2e/run.sh || \
		failed="$$failed e2e"; \
	[ -z "$$failed" ] || { echo "pg-check: failed on PostgreSQL:$$failed"; exit 1; }

# The web UI in chromium (tests/browser/run.sh); screenshots in tests/browser/out/.
browser: $(BIN)
	@ORGSYNC=$(abspath $(BIN)) tests/browser/run.sh

# The npm packages of package.json, at the versions of package-lock.json, in node_modules/.
node_modules/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	@touch $@

test: unit cli-tests e2e

valgrind: $(UNIT_BIN) $(BIN)
	@set -e; for t in $(UNIT_BIN); do \
		echo "== valgrind $$t"; ORGSYNC_TESTDATA=tests/data SHARED=$(SHARED) \
		valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
			--error-exitcode=99 $$t >/dev/null; done
	@ORGSYNC="valgrind -q --leak-check=full --error-exitcode=99 $(abspath $(BIN))" \
		tests/cli/run.sh
	@ORGSYNC="valgrind -q --leak-check=full --error-exitcode=99 $(abspath $(BIN))" \
		tests/e2e/run.sh

fuzz-check: $(FUZZ_BIN)
	@set -e; for f in $(FUZZ_BIN); do n=$$(basename $$f); \
		echo "== $$n for $(FUZZ_SECONDS)s"; mkdir -p build-fuzz/corpus/$$n; \
		$$f -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
			build-fuzz/corpus/$$n fuzz/corpus/$${n#fuzz_} 2>&1 | \
			grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|==|SUMMARY|Done)' ; \
		test $${PIPESTATUS[0]} -eq 0; done

fuzz: FUZZ_SECONDS = 300
fuzz: fuzz-check

# Every tool is installed first, so no test may skip for want of one (tests/e2e/lib.sh).
# Every build of it treats a warning as an error (CI=true), and the linters run first;
# every binary (fuzz targets and orgsync.exe too) is built before the first test runs.
check: export ORGSYNC_REQUIRE_ALL = 1
check: export CI = true
check: deps
	@scripts/install-deps.sh windows
	$(MAKE) --no-print-directory node_modules/.stamp
	$(MAKE) --no-print-directory layers
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory all
	$(MAKE) --no-print-directory $(FUZZ_BIN) $(WIN_EXE)
	$(MAKE) --no-print-directory test
	$(MAKE) --no-print-directory pg-check
	$(MAKE) --no-print-directory browser
	$(MAKE) --no-print-directory MODE=asan test
	$(MAKE) --no-print-directory valgrind
	$(MAKE) --no-print-directory fuzz-check
	$(MAKE) --no-print-directory windows-check
	$(MAKE) --no-print-directory deb-check

# No file includes a layer above its own, and no layer's archive calls into one above
# it (scripts/check-layers.sh says which may use which).
layers: libs
	@scripts/check-layers.sh --self-test
	@scripts/check-layers.sh src
	@scripts/check-layers.sh --archives $(BUILD)/lib

demo:
	@scripts/install-deps.sh demo
	$(MAKE) --no-print-directory all
	@scripts/demo.sh $(abspath $(BIN))

bench:
	@scripts/install-deps.sh bench
	$(MAKE) --no-print-directory all $(BENCH_BIN) $(BUILD)/tests/test_plan $(BUILD)/tests/test_store
	@bench/run.sh $(abspath $(BUILD))
	@$(BUILD)/bench/flood
	@bench/scale.sh $(abspath $(BUILD))
	@bench/service.sh $(abspath $(BUILD)) 100000
	@bench/delivery.sh $(abspath $(BUILD)) 10000 3
	@bench/load.sh $(abspath $(BUILD))
	@bench/scim.sh $(abspath $(BUILD))

lint: deps-dev
	clang-tidy --quiet $(LIB_SRC) $(CLI_SRC) -- $(CPPFLAGS) -std=c11 $(shell $(PKG_CONFIG) --cflags $(PKGS))
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--inline-suppr --suppress=missingIncludeSystem --suppress=varFuncNullUB \
		--include=/usr/include/jansson.h -Isrc src

install: $(BIN)
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/orgsync
	install -D -m 0644 man/orgsync.1 $(DESTDIR)$(PREFIX)/share/man/man1/orgsync.1

# --- Windows: orgsync.exe with the client commands, cross-built with mingw-w64 -------
# (docs/windows.md). Its libraries come from Debian's source packages, built
# into $(WIN_BUILD)/deps by scripts/win-deps.sh; the transport is WinHTTP.
WIN_CC     ?= x86_64-w64-mingw32-gcc
WIN_BUILD  ?= build-win
WIN_DEPS    = $(WIN_BUILD)/deps
WIN_EXE     = $(WIN_BUILD)/orgsync.exe
WIN_SRC     = $(filter-out src/util/os_posix.c src/util/mem.c, $(wildcard src/util/*.c)) \
              $(wildcard src/model/*.c src/format/*.c src/ingest/*.c src/plan/*.c) \
              src/client/client.c src/client/transport_winhttp.c \
              $(addprefix src/cli/, main.c input.c options.c remote.c validate.c convert.c push.c plan.c)
WIN_OBJ     = $(WIN_SRC:%.c=$(WIN_BUILD)/%.o)

# Windows 7 and later; C99 printf (%zu, %lld) from mingw's stdio, not msvcrt's. The
# compiler checks printf formats against msvcrt's: the Linux build checks them.
WIN_CPPFLAGS = -Isrc -I$(WIN_DEPS)/include -DORGSYNC_CLIENT_ONLY -D_WIN32_WINNT=0x0601 \
               -D__USE_MINGW_ANSI_STDIO=1 -D_FILE_OFFSET_BITS=64 -D_GNU_SOURCE
WIN_CFLAGS  = -std=gnu11 $(WARN) -Wno-format -O2
WIN_LDLIBS  = -L$(WIN_DEPS)/lib -ljansson -lyajl -lcsv -lwinhttp -lcrypt32 -lbcrypt -lws2_32 -lshell32 -lpthread

windows: $(WIN_EXE)

# orgsync.exe under wine against this build and its service (tests/windows/run.sh).
windows-check: $(BIN) $(WIN_EXE)
	@ORGSYNC=$(abspath $(BIN)) ORGSYNC_EXE=$(abspath $(WIN_EXE)) tests/windows/run.sh

$(WIN_DEPS)/stamp: FORCE
	@scripts/win-deps.sh $(WIN_DEPS)

$(WIN_BUILD)/%.o: %.c $(WIN_DEPS)/stamp
	@mkdir -p $(dir $@)
	$(WIN_CC) $(WIN_CPPFLAGS) $(WIN_CFLAGS) -MMD -MP -c $< -o $@

$(WIN_EXE): $(WIN_OBJ)
	$(WIN_CC) -static -s -o $@ $(WIN_OBJ) $(WIN_LDLIBS)

# --- packages ----------------------------------------------------------------------
VERSION = $(shell sed -n 's/^\#define ORGSYNC_VERSION "\(.*\)"/\1/p' src/cli/main.c)
DIST    = $(BUILD)/dist

# The Debian package of the whole product (packaging/, scripts/make-deb.sh).
deb: $(BIN)
	@scripts/make-deb.sh $(BIN) $(BUILD)

# lintian, systemd-analyze verify, and an install into a fresh Debian root (tests/deb/run.sh).
deb-check: deb
	@scripts/install-deps.sh deb
	@tests/deb/run.sh $(BUILD)/orgsync_$(VERSION)_$(shell dpkg --print-architecture).deb

# Both artifacts, with their SHA-256 sums: the .deb and a zip of orgsync.exe, the
# docs, a sample config.json and the script the Task Scheduler runs.
dist: deb $(WIN_EXE)
	@rm -rf $(DIST) && mkdir -p $(DIST)/orgsync-$(VERSION)-windows-x64/docs
	cp $(BUILD)/orgsync_$(VERSION)_*.deb $(DIST)/
	cp $(WIN_EXE) packaging/windows/config.json packaging/windows/orgsync-push.cmd README.md \
		$(DIST)/orgsync-$(VERSION)-windows-x64/
	cp docs/*.md $(DIST)/orgsync-$(VERSION)-windows-x64/docs/
	cd $(DIST) && zip -qrX orgsync-$(VERSION)-windows-x64.zip orgsync-$(VERSION)-windows-x64 && \
		rm -rf orgsync-$(VERSION)-windows-x64 && sha256sum *.deb *.zip >SHA256SUMS
	@cat $(DIST)/SHA256SUMS

clean:
	rm -rf build build-asan build-fuzz $(WIN_BUILD)

-include $(shell find $(BUILD) $(WIN_BUILD)/src -name '*.d' 2>/dev/null)
