#!/bin/sh
# The family's provisioning finished cleanly. azurelinux: cloud-init is done without errors; acl: Ignition and
# Afterburn succeeded; any family: an installed Azure guest agent (waagent) is active. Other families check whichever
# of cloud-init and waagent they have, and skip when they have neither.
set -u
# shellcheck source=lib.sh
. ./lib.sh
has_systemd || fail "systemd does not run here: an Azure image boots with systemd"
family=${TESTGRID_FAMILY:-}
problems=0
checked=0
wait_seconds=300

# check_cloud_init required|optional: waits (bounded) for cloud-init to finish. Its exit code: 0 done, 1 error,
# 2 done with recoverable errors (cloud-init >= 23.4). Optional: a disabled cloud-init is not checked.
check_cloud_init() {
  echo "== cloud-init $(cloud-init --version 2>&1 | head -n 1)"
  out=$(bounded "$wait_seconds" cloud-init status --wait --long 2>&1)
  code=$?
  echo "$out"
  echo "(cloud-init status: exit code $code)"
  status=$(echo "$out" | sed -n 's/^[.]*status: *//p' | head -n 1)
  if [ "$1" = optional ] && [ "$status" = disabled ]; then
    echo "cloud-init is installed but disabled: not checked"
    return
  fi
  checked=$((checked + 1))
  if [ "$code" -eq 124 ]; then
    echo "cloud-init did not finish within $wait_seconds s"
    problems=$((problems + 1))
    return
  fi
  if [ "$status" != "done" ]; then
    echo "cloud-init status is '${status:-none}', expected 'done'"
    problems=$((problems + 1))
    return
  fi
  # cloud-init >= 23.4 lists errors as "errors: []", or as a list under "errors:".
  errors=$(echo "$out" | awk '/^errors:/ { on = 1; sub(/^errors: */, ""); if ($0 != "" && $0 != "[]") print; next }
                               on && /^[^ \t-]/ { on = 0 }
                               on { print }')
  if [ "$code" -eq 1 ] || [ -n "$errors" ]; then
    echo "cloud-init finished with errors:"
    [ -n "$errors" ] && echo "$errors"
    as_root grep -E 'ERROR|CRITICAL|Traceback' /var/log/cloud-init.log 2>/dev/null | tail -n 10
    problems=$((problems + 1))
    return
  fi
  # Recoverable errors are warnings (deprecated keys and the like): reported, not failed.
  [ "$code" -eq 2 ] && echo "warning: cloud-init is done with recoverable errors (degraded), listed above"
  echo "cloud-init is done without errors"
}

# waagent: Azure Linux and Fedora name the unit waagent, Debian and Ubuntu walinuxagent. 1 when not installed.
check_waagent() {
  for unit in waagent.service walinuxagent.service; do
    unit_loaded "$unit" || continue
    checked=$((checked + 1))
    echo "== $unit: $(unit_state "$unit")"
    have waagent && waagent --version 2>&1 | head -n 1
    if systemctl is-active --quiet "$unit"; then
      echo "$unit is active"
    else
      systemctl status --no-pager --lines=10 "$unit" 2>&1
      echo "$unit is installed but not active"
      problems=$((problems + 1))
    fi
    return 0
  done
  return 1
}

# Ignition runs once, in the initramfs of the first boot; its evidence stays in the journal and its result files.
check_ignition() {
  checked=$((checked + 1))
  found=0
  echo "== Ignition"
  for file in /etc/.ignition-result.json /run/ignition.json; do
    [ -e "$file" ] && { echo "$file exists"; found=1; }
  done
  unit=ignition-firstboot-complete.service
  if unit_loaded "$unit"; then
    echo "$unit: $(unit_state "$unit")"
    if [ "$(unit_prop "$unit" ActiveState)" = failed ] || [ "$(unit_prop "$unit" Result)" != success ]; then
      echo "$unit did not succeed"
      problems=$((problems + 1))
    elif [ "$(unit_prop "$unit" ConditionResult)" = yes ]; then
      found=1
    fi
  fi
  log=$(journal -o cat -t ignition)
  if [ -n "$log" ]; then
    echo "$log" | grep -E '^Ignition [0-9]|finished successfully|[Ff]ailed|CRITICAL' | tail -n 20
    if echo "$log" | grep -Eq 'Ignition failed|CRITICAL'; then
      echo "Ignition reported a failure"
      problems=$((problems + 1))
    elif echo "$log" | grep -q 'Ignition finished successfully'; then
      found=1
    fi
  else
    echo "no Ignition entries in the journal (not readable, or not kept)"
  fi
  if [ "$found" -eq 1 ]; then
    echo "Ignition succeeded"
  else
    echo "no evidence that Ignition ran and succeeded"
    problems=$((problems + 1))
  fi
}

# Afterburn: afterburn.service (metadata), afterburn-checkin (tells Azure the machine is ready), afterburn-sshkeys@USER.
check_afterburn() {
  checked=$((checked + 1))
  echo "== Afterburn"
  ran=0
  for unit in $(systemctl list-units --all --plain --no-legend 'afterburn*.service' 2>/dev/null | awk '{ print $1 }'); do
    echo "$unit: $(unit_state "$unit")"
    active=$(unit_prop "$unit" ActiveState)
    if [ "$active" = failed ] || [ "$(unit_prop "$unit" Result)" != success ]; then
      journal -o cat -n 10 -u "$unit"
      echo "$unit failed"
      problems=$((problems + 1))
    elif [ "$(unit_prop "$unit" ConditionTimestampMonotonic)" = 0 ]; then
      echo "$unit was never started"
    elif [ "$(unit_prop "$unit" ConditionResult)" = no ]; then
      echo "$unit did not run: its conditions were not met"
    elif [ "$active" = active ] || [ "$active" = inactive ]; then
      ran=$((ran + 1))
    else
      echo "$unit is still $active"
      problems=$((problems + 1))
    fi
  done
  if [ "$ran" -eq 0 ]; then
    echo "no afterburn unit ran successfully (afterburn.service, afterburn-checkin.service, afterburn-sshkeys@*.service)"
    problems=$((problems + 1))
  else
    echo "$ran afterburn unit(s) succeeded"
  fi
}

case "$family" in
  azurelinux)
    have cloud-init || fail "cloud-init is not installed; Azure Linux is provisioned by it"
    check_cloud_init required
    check_waagent || echo "waagent is not installed"
    ;;
  acl)
    check_ignition
    check_afterburn
    check_waagent || true
    ;;
  *)
    if have cloud-init; then check_cloud_init optional; fi
    check_waagent || true
    [ "$checked" -gt 0 ] || skip "family '${family:-unset}' has neither an enabled cloud-init nor waagent: no provisioning agent to check"
    ;;
esac

[ "$problems" -eq 0 ] || fail "provisioning did not finish cleanly: $problems problem(s), see above"
echo "provisioning finished cleanly ($checked agent(s) checked)"
