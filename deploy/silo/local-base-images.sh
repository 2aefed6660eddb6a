#!/usr/bin/env bash
# Local stand-ins for the silo Dockerfile's base images, for a machine that cannot pull from mcr.microsoft.com: the
# debian12-sshd root filesystem of deploy/images (Debian packages only) with this machine's .NET installation — the
# whole SDK for the build stage; only the host and the shared runtimes (Microsoft.NETCore.App,
# Microsoft.AspNetCore.App) for the runtime stage. The SDK stand-in also trusts this machine's CA bundle and keeps its
# NUGET_CERT_REVOCATION_MODE, so that a restore inside it reaches NuGet the way this machine does. The Debian root
# filesystem has no ICU: the SDK runs with invariant globalization (the silo itself is built invariant).
# Prints the build arguments, one a line:
#   SDK_IMAGE=testgrid/dotnet-sdk-local:KEY
#   RUNTIME_IMAGE=testgrid/aspnet-local:KEY
# Cached in the local Docker engine by a key over the Debian image, the .NET version and this script. No registry is
# involved.
#   docker build --network host -f deploy/silo/Dockerfile $(deploy/silo/local-base-images.sh | sed 's/^/--build-arg /') -t testgrid-silo .
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
say() { echo "local-base-images: $*" >&2; }

command -v dotnet >/dev/null || { say "dotnet is not on PATH"; exit 3; }
dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
[ -d "$dotnet_root/sdk" ] && [ -d "$dotnet_root/shared/Microsoft.AspNetCore.App" ] || {
  say "$dotnet_root has no SDK or no ASP.NET Core runtime"; exit 3; }
ca_bundle=/etc/ssl/certs/ca-certificates.crt
[ -f "$ca_bundle" ] || { say "$ca_bundle is missing (apt-get install ca-certificates)"; exit 3; }

base=$("$here/../images/docker-image.sh" debian12-sshd)
key=$({
  echo "$base"
  (cd "$dotnet_root" && ls -d sdk/* shared/*/* host/fxr/*)
  echo "revocation=${NUGET_CERT_REVOCATION_MODE:-}"
  sha256sum <"$ca_bundle"
  cat "${BASH_SOURCE[0]}"
} | sha256sum | cut -c1-16)
sdk=testgrid/dotnet-sdk-local:$key
runtime=testgrid/aspnet-local:$key

if docker image inspect "$sdk" >/dev/null 2>&1 && docker image inspect "$runtime" >/dev/null 2>&1; then
  say "cache hit: $sdk, $runtime"
else
  context=$(mktemp -d)
  trap 'rm -rf "$context"' EXIT
  cp "$ca_bundle" "$context/ca-certificates.crt"
  revocation=${NUGET_CERT_REVOCATION_MODE:+"ENV NUGET_CERT_REVOCATION_MODE=$NUGET_CERT_REVOCATION_MODE"}
  # The SDK image: the context is a tar stream of this folder (Dockerfile, CA bundle) and the .NET folder.
  cat >"$context/Dockerfile" <<DOCKERFILE
FROM $base
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY $(basename "$dotnet_root")/ /usr/share/dotnet/
RUN ln -sf /usr/share/dotnet/dotnet /usr/bin/dotnet
ENV DOTNET_RUNNING_IN_CONTAINER=true DOTNET_NOLOGO=true DOTNET_CLI_TELEMETRY_OPTOUT=true NUGET_XMLDOC_MODE=skip \\
    DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=true
$revocation
CMD ["/bin/bash"]
DOCKERFILE
  say "building $sdk from $base and $dotnet_root"
  tar -c -C "$context" Dockerfile ca-certificates.crt -C "$(dirname "$dotnet_root")" "$(basename "$dotnet_root")" \
    | docker build -q -t "$sdk" - >/dev/null
  # The runtime image: the host and shared runtimes taken from the SDK image, no SDK.
  say "building $runtime"
  docker build -q -t "$runtime" - >/dev/null <<DOCKERFILE
FROM $sdk AS sdk
FROM $base
COPY --from=sdk /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=sdk /usr/share/dotnet/dotnet /usr/share/dotnet/dotnet
COPY --from=sdk /usr/share/dotnet/host/ /usr/share/dotnet/host/
COPY --from=sdk /usr/share/dotnet/shared/ /usr/share/dotnet/shared/
RUN ln -sf /usr/share/dotnet/dotnet /usr/bin/dotnet
ENV DOTNET_RUNNING_IN_CONTAINER=true ASPNETCORE_HTTP_PORTS=8080
CMD ["/bin/bash"]
DOCKERFILE
fi
echo "SDK_IMAGE=$sdk"
echo "RUNTIME_IMAGE=$runtime"
