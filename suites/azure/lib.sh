# shellcheck shell=sh
# Helpers shared by the azure suite's scripts. Sourced (". ./lib.sh"), never run as a test.
# Tests run from the suite folder as the admin user, who may need sudo for a few reads.

# have NAME: NAME is a command on PATH.
have() { command -v "$1" >/dev/null 2>&1; }

# skip REASON / fail REASON: end the test; the last line printed is the reason.
skip() { echo "$*"; exit 77; }
fail() { echo "$*"; exit 1; }

# as_root CMD...: CMD as root: directly when root, else through sudo without a prompt; status 126 when neither works.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif have sudo; then
    sudo -n "$@"
  else
    echo "not root and no sudo: cannot run $*" >&2
    return 126
  fi
}

# can_root: as_root will work (root, or sudo without a password).
can_root() { [ "$(id -u)" -eq 0 ] || { have sudo && sudo -n true 2>/dev/null; }; }

# bounded SECONDS CMD...: CMD under timeout(1) when the machine has it.
bounded() {
  limit=$1
  shift
  if have timeout; then timeout "$limit" "$@"; else "$@"; fi
}

# systemd runs here (it does on every Azure image; containers and odd hosts may lack it).
has_systemd() { [ -d /run/systemd/system ] && have systemctl; }

# unit_loaded UNIT: systemd knows UNIT (it is installed), whether or not it ran.
unit_loaded() { [ "$(systemctl show -p LoadState --value "$1" 2>/dev/null)" = loaded ]; }

# unit_prop UNIT PROPERTY: one property of UNIT, e.g. ActiveState, Result, ConditionResult.
unit_prop() { systemctl show -p "$2" --value "$1" 2>/dev/null; }

# unit_state UNIT: one line with what systemd says of UNIT, for the evidence.
unit_state() {
  systemctl show -p ActiveState -p SubState -p Result -p ExecMainStatus -p ConditionResult "$1" 2>/dev/null | tr '\n' ' '
}

# journal ARGS...: journalctl with the whole system's journal when sudo allows, else what the user may read.
journal() { as_root journalctl --no-pager "$@" 2>/dev/null || journalctl --no-pager "$@" 2>/dev/null; }
