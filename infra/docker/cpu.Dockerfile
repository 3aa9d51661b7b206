# The CPU image: the same app as gpu.Dockerfile with the default TorchBackend (libtorch's CPU build), for Container
# Apps without a GPU and for `docker run` on any x64 machine. linux-x64 natives only.
#
# Build from the repository root, which is the context:
#   docker build -f infra/docker/cpu.Dockerfile --build-arg BASE_REGISTRY=<host of Microsoft's container registry> .
# cpu.Dockerfile.dockerignore beside this file keeps bin/, obj/, runs and local data out of the context.
# Sizes, running it locally, and what is verified and what is not: infra/README.md.

# Both base images come from Microsoft's container registry, whose host the builder passes in (BASE_REGISTRY), or
# pass SDK_IMAGE / FUNCTIONS_BASE_IMAGE whole (a mirror, a pinned digest).
ARG BASE_REGISTRY
ARG SDK_IMAGE=${BASE_REGISTRY}/dotnet/sdk:10.0
ARG FUNCTIONS_BASE_IMAGE=${BASE_REGISTRY}/azure-functions/dotnet-isolated:4-dotnet-isolated10.0

FROM ${SDK_IMAGE} AS build
WORKDIR /src
# Project and build files first, so the restore layer is reused until one of them changes.
COPY Directory.Build.props Directory.Build.targets Directory.Packages.props host.json local.settings.sample.json ./
COPY tools/build/ tools/build/
COPY core/ImageGen.Core/ImageGen.Core.csproj core/ImageGen.Core/
COPY core/ImageGen.Core.Torch/ImageGen.Core.Torch.csproj core/ImageGen.Core.Torch/
COPY core/ImageGen.Pipeline/ImageGen.Pipeline.csproj core/ImageGen.Pipeline/
COPY core/ImageGen.Pipeline.Torch/ImageGen.Pipeline.Torch.csproj core/ImageGen.Pipeline.Torch/
COPY functions/ImageGen.Functions/ImageGen.Functions.csproj functions/ImageGen.Functions/
COPY functions/ImageGen.Functions.Front/FunctionsApp.props functions/ImageGen.Functions.Front/
RUN dotnet restore functions/ImageGen.Functions -r linux-x64
COPY core/ core/
COPY functions/ImageGen.Functions/ functions/ImageGen.Functions/
COPY functions/ImageGen.Functions.Front/ functions/ImageGen.Functions.Front/
# bin/ and obj/ of a developer's checkout must not reach the build (a builder that ignores the .dockerignore would
# bring them); publish restores again from the packages already in this stage. The checks fail the build when the
# entry assembly, the Functions metadata or libtorch's CPU library is missing, or a CUDA library got in.
RUN find core functions tools -type d \( -name bin -o -name obj \) -prune -exec rm -rf {} + \
 && dotnet publish functions/ImageGen.Functions -c Release -r linux-x64 --self-contained false -o /app/publish \
 && test -f /app/publish/ImageGen.Functions.dll \
 && test -f /app/publish/functions.metadata \
 && test -f /app/publish/worker.config.json \
 && test -f /app/publish/libtorch_cpu.so \
 && test ! -e /app/publish/libtorch_cuda.so

FROM ${FUNCTIONS_BASE_IMAGE}
# The Functions host (the base image's entry point) loads the app from the script root and starts the isolated
# worker named in its worker.config.json (dotnet ImageGen.Functions.dll), listening on port 80.
ENV AzureWebJobsScriptRoot=/home/site/wwwroot \
    AzureFunctionsJobHost__Logging__Console__IsEnabled=true \
    FUNCTIONS_WORKER_RUNTIME=dotnet-isolated \
    ASPNETCORE_URLS=http://+:80
COPY --from=build /app/publish /home/site/wwwroot
EXPOSE 80
