# orgsync — plain Makefile with pkg-config.
SHELL := /bin/bash
#   make          build build/orgsync
#   make check    install what the tests need, then every test (plain, ASan+UBSan, valgrind, fuzz)
#   make demo     install, build, run the sample org through the tool
#   make bench    benchmarks (bench/README.md)
#   make fuzz     each fuzz target for FUZZ_SECONDS
#   make lint     clang-tidy and cppcheck
#   make install  binary and man page under PREFIX

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
           -Wvla -Wformat=2
ifeq ($(CI),true)
WARN    += -Werror
endif
# Windows-only sources, built by `make windows` (see below).
WIN_ONLY = %_win.c %_winhttp.c
PKGS     = yajl sqlite3 libsodium jansson libmicrohttpd libcurl
CPPFLAGS += -Isrc -D_GNU_SOURCE
CFLAGS   += -std=c11 $(WARN) $(MODEFLAGS) $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) -lcsv -lm -lpthread
LDFLAGS  += $(MODELD)

LIB_SRC  = $(filter-out $(WIN_ONLY), $(wildcard src/util/*.c src/model/*.c src/ingest/*.c src/plan/*.c src/store/*.c src/server/*.c src/client/*.c))
CLI_SRC  = $(wildcard src/cli/*.c)
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  = $(CLI_SRC:%.c=$(BUILD)/%.o)
LIB      = $(BUILD)/liborgsync.a
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

.PHONY: all check test unit cli-tests e2e valgrind deps deps-dev demo bench fuzz fuzz-check lint install clean FORCE

all: $(BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BIN): $(CLI_OBJ) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(LIB) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Itests $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS) -lcmocka

$(BUILD)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# The fuzz library has its own flags: a sub-make keeps it current, and a
# target relinks when it changed.
ifneq ($(MODE),fuzz)
build-fuzz/liborgsync.a: FORCE
	$(MAKE) --no-print-directory MODE=fuzz build-fuzz/liborgsync.a
endif

build-fuzz/fuzz_%: fuzz/fuzz_%.c build-fuzz/liborgsync.a
	clang $(CPPFLAGS) -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o $@ $< \
		build-fuzz/liborgsync.a $(shell $(PKG_CONFIG) --libs $(PKGS)) -lcsv -lm

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
check: export ORGSYNC_REQUIRE_ALL = 1
check: deps
	$(MAKE) --no-print-directory all
	$(MAKE) --no-print-directory test
	$(MAKE) --no-print-directory MODE=asan test
	$(MAKE) --no-print-directory valgrind
	$(MAKE) --no-print-directory fuzz-check

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
	@bench/load.sh $(abspath $(BUILD))

lint: deps-dev
	clang-tidy --quiet $(LIB_SRC) $(CLI_SRC) -- $(CPPFLAGS) -std=c11 $(shell $(PKG_CONFIG) --cflags $(PKGS))
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--inline-suppr --suppress=missingIncludeSystem --suppress=varFuncNullUB \
		--include=/usr/include/jansson.h -Isrc src

install: $(BIN)
	install -D -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/orgsync
	install -D -m 0644 man/orgsync.1 $(DESTDIR)$(PREFIX)/share/man/man1/orgsync.1

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
