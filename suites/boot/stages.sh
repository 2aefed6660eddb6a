#!/bin/sh
# systemd's boot stages, reported as metrics (seconds) once the boot has finished.
set -u
if ! command -v systemd-analyze >/dev/null 2>&1 || [ ! -d /run/systemd/system ]; then
  echo "systemd does not run here: no boot stages to measure"
  exit 77
fi
# systemd-analyze answers only once the boot has finished; wait for it (the test's timeout bounds the wait).
echo "system state: $(systemctl is-system-running --wait 2>/dev/null)"
out=$(systemd-analyze time 2>&1) || { echo "$out"; exit 1; }
echo "$out"
line=$(echo "$out" | grep '^Startup finished in' | head -n 1)
[ -n "$line" ] || { echo "systemd-analyze printed no 'Startup finished' line"; exit 1; }
# "Startup finished in 1.2s (firmware) + 850ms (loader) + 2.5s (kernel) + 1min 1.1s (userspace) = 1min 5.6s"
to_seconds() {
  awk '{ t = 0
         for (i = 1; i <= NF; i++) { v = $i
           if (v ~ /ms$/) t += substr(v, 1, length(v) - 2) / 1000
           else if (v ~ /us$/) t += substr(v, 1, length(v) - 2) / 1000000
           else if (v ~ /min$/) t += substr(v, 1, length(v) - 3) * 60
           else if (v ~ /h$/) t += substr(v, 1, length(v) - 1) * 3600
           else if (v ~ /s$/) t += substr(v, 1, length(v) - 1) }
         printf "%.3f\n", t }'
}
echo "$line" | sed 's/^Startup finished in //; s/ = .*$//' | tr '+' '\n' | while read -r part; do
  name=$(echo "$part" | sed -n 's/.*(\([a-z]*\)).*/\1/p')
  [ -n "$name" ] && echo "boot.$name $(echo "$part" | sed 's/(.*)//' | to_seconds)" >> "$TESTGRID_METRICS"
done
echo "boot.total $(echo "$line" | sed 's/.* = //' | to_seconds)" >> "$TESTGRID_METRICS"
cat "$TESTGRID_METRICS"
