#!/usr/bin/env bash
# Prepares a machine for TestGrid's main job and tests; safe to run again (each step checks first).
#   scripts/setup.sh [--no-docker] [--images RECIPE...]
#  - Debian packages: QEMU for x64 and arm64 guests (qemu-system-x86, qemu-system-arm, qemu-utils), qemu-user-static
#    and binfmt-support (to build arm64 images on x64), mmdebstrap, arch-test (mmdebstrap's check of a foreign
#    architecture: a recommendation, which --no-install-recommends leaves out) and e2fsprogs (image recipes), openssh-client
#    (ssh-keygen, ssh-keyscan), openssh-server (/usr/sbin/sshd: the fan-out benchmark starts its own sshd processes on
#    127.0.0.1; it neither needs nor uses a system sshd, which the package may start on port 22), util-linux (setsid),
#    docker.io (a Docker engine for the tests' SSH hosts), and nodejs and npm (for Azurite);
#  - Azurite (npm azurite, pinned), the Azure Storage emulator the Azure Tables ledger and the cluster tests (tables, blobs) run against,
#    installed into $TESTGRID_CACHE/azurite-VERSION;
#  - the validators of deploy/ (tests in src/Tests/Deploy): kubectl (Debian's kubernetes-client when the machine has
#    none), the Bicep compiler and the Kubernetes schemas, pinned, into $TESTGRID_CACHE (see the block below);
#  - qemu-user registered with binfmt_misc for foreign-arch image builds;
#  - a running Docker engine (unless --no-docker): the system's, or dockerd started with loopback-only settings;
#  - images, cached by recipe hash in $TESTGRID_CACHE: the debian12-sshd container image (unless --no-docker) and
#    the VM images named after --images.
# Needs root for packages, binfmt and dockerd when something is missing; otherwise prints the command to run and exits 3.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
say() { echo "setup: $*" >&2; }
docker=true
vm_images=()
while [ $# -gt 0 ]; do
  case $1 in
    --no-docker) docker=false ;;
    --images) shift; while [ $# -gt 0 ] && [[ $1 != --* ]]; do vm_images+=("$1"); shift; done; continue ;;
    *) say "unknown argument $1"; exit 3 ;;
  esac
  shift
done

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; return; fi
  say "needs root for: $*"
  say "run it (or this script) with sudo, then try again"
  exit 3
}

command -v dotnet >/dev/null && dotnet --list-sdks | grep -q '^10\.' || {
  say ".NET SDK 10 is missing: install it (https://learn.microsoft.com/dotnet/core/install/linux-debian), then try again"
  exit 3
}

missing=()
if $docker; then
  # The engine, not the client: some machines carry a docker CLI with no engine behind it.
  docker info >/dev/null 2>&1 || command -v dockerd >/dev/null || missing+=(docker.io)
fi
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
command -v arch-test >/dev/null || missing+=(arch-test)
command -v mkfs.ext4 >/dev/null || missing+=(e2fsprogs)
command -v ssh-keygen >/dev/null || missing+=(openssh-client)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v setsid >/dev/null || missing+=(util-linux)
[ -x /usr/bin/time ] || missing+=(time) # GNU time: a child's peak memory in the tests
command -v ip >/dev/null || missing+=(iproute2)
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
command -v qemu-system-aarch64 >/dev/null || missing+=(qemu-system-arm)
command -v qemu-img >/dev/null || missing+=(qemu-utils)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
command -v kubectl >/dev/null || missing+=(kubernetes-client)
[ -e /usr/bin/qemu-aarch64-static ] || [ "$(dpkg --print-architecture)" = arm64 ] || missing+=(qemu-user-static binfmt-support)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Foreign-arch image builds run the guest's package scripts through qemu-user.
foreign=$([ "$(dpkg --print-architecture)" = arm64 ] && echo x86_64 || echo aarch64)
if [ ! -e "/proc/sys/fs/binfmt_misc/qemu-$foreign" ]; then
  say "registering qemu-$foreign with binfmt_misc"
  [ -e /proc/sys/fs/binfmt_misc/register ] || as_root mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  as_root update-binfmts --enable "qemu-$foreign"
fi

if $docker && ! docker info >/dev/null 2>&1; then
  if [ -d /run/systemd/system ] && systemctl list-unit-files docker.service >/dev/null 2>&1; then
    say "starting docker.service"
    as_root systemctl start docker
  else
    # No init system to ask: start the engine with networking kept to the host (the test hosts use host networking
    # and bind 127.0.0.1), no bridge, no iptables.
    say "starting dockerd (log: /var/log/testgrid-dockerd.log)"
    as_root sh -c 'nohup dockerd --bridge=none --iptables=false --ip-masq=false --ip-forward=false --userland-proxy=false >/var/log/testgrid-dockerd.log 2>&1 &'
  fi
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { say "the Docker engine did not come up; see /var/log/testgrid-dockerd.log"; exit 2; }
fi

# Azurite for the ledger's Azure Tables tests: from npm, into the cache (outside the clone), once per version.
azurite_version=3.35.0
azurite_dir=${TESTGRID_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/testgrid}/azurite-$azurite_version
if [ ! -x "$azurite_dir/node_modules/.bin/azurite" ]; then
  say "installing azurite $azurite_version into $azurite_dir"
  mkdir -p "$azurite_dir"
  npm install --prefix "$azurite_dir" --no-audit --no-fund --loglevel=error "azurite@$azurite_version" >&2
fi

# ---- Validators of deploy/ (tests in src/Tests/Deploy) ------------------------------------------------------------
# Offline tools only: nothing here reaches the Internet when it runs.
#  - Bicep compiler: the binary of NuGet's Azure.Bicep.CommandLine.linux-x64 (restored by a throwaway project outside
#    the clone, so the repository's central package versions do not apply), into $TESTGRID_CACHE/bicep-VERSION/bicep.
#    Its Azure resource types are built in: `bicep build` checks every resource type, API version and property.
#    No linux-arm64 package is served here: on arm64 the Bicep tests skip, saying so.
#  - Kubernetes schemas: npm kubernetes-models (JSON schemas of the Kubernetes API objects) and yaml, into
#    $TESTGRID_CACHE/k8s-validate-VERSION-VERSION, for deploy/kubernetes/validate.mjs.
bicep_version=0.49.2
kubernetes_models_version=5.1.0
yaml_version=2.9.1
cache=${TESTGRID_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/testgrid}
bicep_dir=$cache/bicep-$bicep_version
if [ ! -x "$bicep_dir/bicep" ] && [ "$(dpkg --print-architecture)" = amd64 ]; then
  say "installing the Bicep compiler $bicep_version into $bicep_dir"
  restore=$(mktemp -d)
  cat >"$restore/bicep.csproj" <<PROJECT
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>net10.0</TargetFramework></PropertyGroup>
  <ItemGroup><PackageDownload Include="Azure.Bicep.CommandLine.linux-x64" Version="[$bicep_version]" /></ItemGroup>
</Project>
PROJECT
  dotnet restore "$restore/bicep.csproj" --packages "$restore/packages" -v quiet >&2 || {
    rm -rf "$restore"; say "could not restore Azure.Bicep.CommandLine.linux-x64 $bicep_version from NuGet"; exit 2; }
  mkdir -p "$bicep_dir"
  install -m 0755 "$restore/packages/azure.bicep.commandline.linux-x64/$bicep_version/tools/bicep" "$bicep_dir/bicep"
  rm -rf "$restore"
fi
k8s_validate_dir=$cache/k8s-validate-$kubernetes_models_version-$yaml_version
if [ ! -f "$k8s_validate_dir/node_modules/kubernetes-models/package.json" ] || [ ! -f "$k8s_validate_dir/node_modules/yaml/package.json" ]; then
  say "installing kubernetes-models $kubernetes_models_version and yaml $yaml_version into $k8s_validate_dir"
  mkdir -p "$k8s_validate_dir"
  npm install --prefix "$k8s_validate_dir" --no-audit --no-fund --loglevel=error \
    "kubernetes-models@$kubernetes_models_version" "yaml@$yaml_version" >&2
fi
# ---- end of the deploy/ validators --------------------------------------------------------------------------------

if $docker; then "$repo/deploy/images/docker-image.sh" debian12-sshd >/dev/null; fi
for recipe in "${vm_images[@]}"; do "$repo/deploy/images/vm-image.sh" "$recipe" >/dev/null; done
say "ready"
