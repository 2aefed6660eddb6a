#!/usr/bin/env bash
# Publishes one of the repository's programs compiled ahead of time (ReadyToRun) for this machine's architecture,
# framework-dependent, into a folder of its own:
#   scripts/publish.sh PROJECT OUTDIR
# A run starts cold: JIT-compiled, the CLI spent its first seconds compiling Orleans, SSH.NET and BouncyCastle (whose
# post-quantum key exchange then ran unoptimised for every host's first login) on the cores its machines' commands
# share. SSH fan-out over 32 hosts, runner CPU 6.3 and 7.6 s ReadyToRun against 7.7 and 8.9 s JIT-compiled (BENCHMARKS.md).
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: scripts/publish.sh PROJECT OUTDIR" >&2; exit 2; }
case "$(uname -m)" in
  x86_64) rid=linux-x64 ;;
  aarch64|arm64) rid=linux-arm64 ;;
  *) echo "scripts/publish.sh: no .NET runtime identifier for this machine's architecture $(uname -m)" >&2; exit 1 ;;
esac
dotnet publish "$1" -c Release -r "$rid" --self-contained false -p:PublishReadyToRun=true -o "$2" -v quiet -nologo >/dev/null
