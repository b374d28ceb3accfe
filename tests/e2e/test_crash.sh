#!/usr/bin/env bash
# A sync never half-happens: 30 kills (SIGKILL) of the server at random
# moments of a 20000-member sync, each followed by a restart and a check
# that the org is exactly the state before or after it. The logic, its
# output and its summary line are those of the soak, tests/soak/crash.sh.
# shellcheck source=tests/soak/crash.sh
. "$(dirname "$0")/../soak/crash.sh" 30 20000
