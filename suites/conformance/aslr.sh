#!/bin/sh
# Address space layout randomisation is fully on (kernel.randomize_va_space = 2).
set -u
value=$(cat /proc/sys/kernel/randomize_va_space)
echo "kernel.randomize_va_space = $value"
[ "$value" -eq 2 ]
