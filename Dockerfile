# check=skip=SecretsUsedInArgOrEnv
# (The *_KEY_URL and *_KEY_FINGERPRINT build args name public signing keys,
# not secrets; BuildKit's check flags them by their names alone.)
#
# Vanta Ledger appliance image: Ubuntu 22.04 with one `vanta init` (PID 1)
# supervising PostgreSQL 15, Redis 7, MongoDB 8.0, the llama.cpp model
# servers, pgAdmin 4 and Mongo Express, all keeping their state under one
# volume. docs/OPERATIONS.md ("Building and running the image") shows
# `docker build` and `docker run`.
#
# The runtime apt packages are those of packages.list (scope "image"); the
# rootfs test and native installs read the same file (scope "debian"), so
# the two cannot drift. The image's environment, ports and volume are those
# of rootfs/etc/vanta/image.conf. internal/imagespec's tests keep this file,
# those two, and the README's image section equal.
#
# Ubuntu 22.04 ships PostgreSQL 14 and Redis 6.0, and no MongoDB or pgAdmin
# at all, so four vendor apt repositories are added, and llama.cpp is built
# from its source. Their addresses are not written here: pass them at build
# time. Each of these is required, and the build stops early, naming the
# missing one, when it is not given:
#
#   PGDG_REPO               base URI of the PostgreSQL project's apt repository
#   PGDG_KEY_URL            its archive signing key (armored or binary)
#   PGDG_KEY_FINGERPRINT    that key's full fingerprint, 40 hex digits
#   REDIS_REPO              base URI of the Redis project's apt repository
#   REDIS_KEY_URL, REDIS_KEY_FINGERPRINT
#   MONGODB_REPO            base URI of MongoDB's apt repository for Ubuntu
#   MONGODB_KEY_URL, MONGODB_KEY_FINGERPRINT   (the key of the 8.0 series)
#   PGADMIN_REPO            base URI of pgAdmin's apt repository, without the
#                           distribution (the build appends /jammy)
#   PGADMIN_KEY_URL, PGADMIN_KEY_FINGERPRINT
#   LLAMA_CPP_REPO          a git URL of the llama.cpp source
#
# A key is trusted only if it carries the fingerprint given, and only that
# key is installed, so a tampered or swapped key file fails the build instead
# of quietly becoming a trusted signer.
#
# Optional build args, with their defaults:
#
#   VERSION=dev             what `vanta version` and the OCI labels say
#   REVISION, CREATED       the source revision and build time for the labels
#   LLAMA_CPP_TAG=b11669    the llama.cpp release built (the one the tests'
#                           llama-server runs)
#   LLAMA_GPU=cpu           cpu, or cuda: llama-server offloads layers to an
#                           NVIDIA GPU (run with `docker run --gpus all`)
#   LLAMA_BASE=ubuntu:22.04 the llama.cpp build stage's base; for LLAMA_GPU=cuda
#                           a CUDA *devel* image on Ubuntu 22.04, whose CUDA
#                           runtime libraries are copied into this image
#   CUDA_ARCHITECTURES      e.g. "86;89": the GPUs to build for (default: all
#                           that the CUDA toolkit and llama.cpp build for)
#   NODE_VERSION=22.12.0    the Node.js release that runs Mongo Express
#
#   docker build --build-arg VERSION=$(git describe --tags) \
#     --build-arg PGDG_REPO=... --build-arg PGDG_KEY_URL=... ... -t vanta .
#
# Stopping: `vanta init` splits its shutdown budget (VANTA_STOP_TIMEOUT,
# default 10s, matching docker's default) between the HTTP drain, the
# services and PostgreSQL last. When you raise it, raise
# `docker run --stop-timeout` to the same number of seconds: otherwise docker
# SIGKILLs the whole container while PostgreSQL is still checkpointing.

ARG NODE_VERSION=22.12.0
ARG LLAMA_BASE=ubuntu:22.04

# ---------------------------------------------------------------------------
FROM golang:1.26-bookworm AS go

# The binary is built with cgo (the PKCS#11 key provider loads an HSM's
# library) and so links against glibc: build it on the runtime's own base,
# since a binary linked on bookworm (glibc 2.36) would not start on 22.04
# (2.35). The Go toolchain comes from the official image's stage above.
FROM ubuntu:22.04 AS build
COPY --from=go /usr/local/go /usr/local/go
ENV PATH=/usr/local/go/bin:$PATH \
    CGO_ENABLED=1 \
    GOTOOLCHAIN=local
# GOTOOLCHAIN=local: a go.mod asking for a newer Go must fail here rather
# than fetch another toolchain behind our back.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gcc libc6-dev ca-certificates git \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src

# Modules first, so that editing the source does not refetch them.
COPY go.mod go.sum ./
RUN go mod download

COPY . .

# Without a default an empty -X would blank the version `vanta version` prints.
ARG VERSION=dev
RUN go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/vanta ./cmd/vanta

# ---------------------------------------------------------------------------
# llama-server, the model server vanta init runs once per GGUF model in
# $DATA/models. Built on Ubuntu 22.04 too (or a CUDA devel image of it), for
# the same glibc reason. ggml is linked in statically, without OpenMP, so
# the binary needs nothing beyond the base system (and, built for CUDA, the
# CUDA libraries copied next to it and the driver's libcuda, which the
# NVIDIA container toolkit mounts at run time).
FROM ${LLAMA_BASE} AS llama
ARG LLAMA_CPP_REPO
ARG LLAMA_CPP_TAG=b11669
ARG LLAMA_GPU=cpu
ARG CUDA_ARCHITECTURES=
ARG DEBIAN_FRONTEND=noninteractive
SHELL ["/bin/bash", "-euo", "pipefail", "-c"]
RUN if [ -z "${LLAMA_CPP_REPO:-}" ]; then echo "build arg LLAMA_CPP_REPO is required (see the top of the Dockerfile)" >&2; exit 1; fi; \
    extra=(); \
    case "$LLAMA_GPU" in \
      cpu) ;; \
      # --allow-shlib-undefined: the build links against the toolkit's stub
      # libcuda; the real one is the driver's, present only at run time.
      # No NCCL: it serves several GPUs working on one model, and its
      # library would be one more to carry.
      cuda) extra=(-DGGML_CUDA=ON -DGGML_CUDA_NCCL=OFF -DCMAKE_CUDA_HOST_COMPILER=g++-12 "-DCMAKE_EXE_LINKER_FLAGS=-Wl,--allow-shlib-undefined"); \
            if [ -n "$CUDA_ARCHITECTURES" ]; then extra+=("-DCMAKE_CUDA_ARCHITECTURES=$CUDA_ARCHITECTURES"); fi; \
            command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ] || { echo "LLAMA_GPU=cuda needs LLAMA_BASE to be a CUDA devel image (no nvcc in $LLAMA_BASE)" >&2; exit 1; };; \
      *) echo "LLAMA_GPU must be cpu or cuda, not $LLAMA_GPU" >&2; exit 1;; \
    esac; \
    apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates git cmake make gcc-12 g++-12; \
    git clone --quiet --depth 1 --branch "$LLAMA_CPP_TAG" "$LLAMA_CPP_REPO" /src/llama.cpp; \
    # A shallow clone cannot count the commits that make the build number
    # `llama-server --version` prints; a bNNNN tag names it.
    if [[ "$LLAMA_CPP_TAG" =~ ^b([0-9]+)$ ]]; then extra+=("-DLLAMA_BUILD_NUMBER=${BASH_REMATCH[1]}"); fi; \
    # GGML_NATIVE=OFF: code for the x86-64 AVX2 baseline (or generic
    # ARMv8), not for whichever CPU the build machine has. No curl: the
    # appliance gives llama-server model files, it never downloads one. No
    # web UI (its assets may be fetched at build time; the appliance only
    # calls the API): llama.cpp renamed those options, both names are
    # given, and cmake only warns about the one a release lacks.
    PATH="/usr/local/cuda/bin:$PATH" CC=gcc-12 CXX=g++-12 cmake -S /src/llama.cpp -B /src/build \
      -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=OFF -DGGML_OPENMP=OFF \
      -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON \
      -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_WEBUI=OFF -DLLAMA_USE_PREBUILT_WEBUI=OFF \
      "${extra[@]}"; \
    PATH="/usr/local/cuda/bin:$PATH" cmake --build /src/build --target llama-server -j"$(nproc)"; \
    install -D -m 0755 /src/build/bin/llama-server /out/bin/llama-server; \
    install -d /out/lib; \
    # A CUDA build's toolkit libraries (cuBLAS, and cudart unless linked
    # statically) go with the binary;
    # libcuda.so.1 is the driver's and must not be copied.
    if [ "$LLAMA_GPU" = cuda ]; then \
      ldd /out/bin/llama-server | awk '$3 ~ /cuda/ && $1 !~ /^libcuda[.]so/ { print $3 }' | xargs -r cp -L -t /out/lib; \
      ls /out/lib/libcublas.so.* >/dev/null; \
    else \
      /out/bin/llama-server --version; \
    fi; \
    rm -rf /src /var/lib/apt/lists/*

# ---------------------------------------------------------------------------
# Mongo Express, from the repository's lockfile, installed as
# scripts/install-deps installs it natively (with the same stamp). Its
# modules are plain JavaScript (--ignore-scripts builds nothing), so they run
# on the image's Node.js as they are. The node binary of this release line
# needs glibc 2.28 and a libstdc++ of GCC 10 or later: Ubuntu 22.04 has
# 2.35 and GCC 12's, and the final stage runs `node --version` to prove it.
FROM node:${NODE_VERSION}-bookworm-slim AS node
SHELL ["/bin/bash", "-euo", "pipefail", "-c"]
WORKDIR /usr/local/lib/vanta/mongo-express
COPY tools/mongo-express/package.json tools/mongo-express/package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error; \
    test -f node_modules/mongo-express/app.js; \
    sha256sum package-lock.json | cut -d' ' -f1 > .installed-lock-sha256; \
    rm -rf /root/.npm

# ---------------------------------------------------------------------------
FROM ubuntu:22.04

ARG PGDG_REPO
ARG PGDG_KEY_URL
ARG PGDG_KEY_FINGERPRINT
ARG REDIS_REPO
ARG REDIS_KEY_URL
ARG REDIS_KEY_FINGERPRINT
ARG MONGODB_REPO
ARG MONGODB_KEY_URL
ARG MONGODB_KEY_FINGERPRINT
ARG PGADMIN_REPO
ARG PGADMIN_KEY_URL
ARG PGADMIN_KEY_FINGERPRINT

# The appliance needs Redis 7 (its config uses shutdown-on-sigterm and an ACL
# file); 7.2 is the last 7.x line under the BSD licence. The vendor
# repository also carries later lines, which apt would otherwise prefer.
ARG REDIS_SERIES=7.2
ARG MONGODB_SERIES=8.0

# An ARG, not ENV: it matters to apt during the build only.
ARG DEBIAN_FRONTEND=noninteractive

SHELL ["/bin/bash", "-euo", "pipefail", "-c"]

COPY packages.list /tmp/packages.list

RUN for v in PGDG_REPO PGDG_KEY_URL PGDG_KEY_FINGERPRINT \
             REDIS_REPO REDIS_KEY_URL REDIS_KEY_FINGERPRINT \
             MONGODB_REPO MONGODB_KEY_URL MONGODB_KEY_FINGERPRINT \
             PGADMIN_REPO PGADMIN_KEY_URL PGADMIN_KEY_FINGERPRINT; do \
      if [ -z "${!v:-}" ]; then echo "build arg $v is required (see the top of the Dockerfile)" >&2; exit 1; fi; \
    done; \
    # The image's packages: packages.list without the Debian-only ones.
    mapfile -t packages < <(awk '!/^[[:space:]]*(#|$)/ && ($2 == "" || $2 == "image") { print $1 }' /tmp/packages.list); \
    if ((${#packages[@]} == 0)); then echo "no packages read from packages.list" >&2; exit 1; fi; \
    # Packages must not start their servers here: PostgreSQL would run on
    # the cluster we are about to drop, Redis on a config we never use.
    made_policy=; \
    if [ ! -e /usr/sbin/policy-rc.d ]; then \
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 0755 /usr/sbin/policy-rc.d; made_policy=1; \
    fi; \
    apt-get update; \
    # Build-only tools (purged below), and ca-certificates, which the list
    # keeps installed.
    apt-get install -y --no-install-recommends ca-certificates curl gnupg; \
    GNUPGHOME="$(mktemp -d)"; export GNUPGHOME; \
    install -d -m 0755 /etc/apt/keyrings; \
    # trust_key URL FINGERPRINT NAME: import the file into a scratch keyring
    # and export only the key with that fingerprint, so extra keys in the
    # file are never trusted and a wrong one fails the build.
    trust_key() { \
      local want; want="$(tr -d ' ' <<<"$2" | tr 'a-f' 'A-F')"; \
      if [[ ! "$want" =~ ^[0-9A-F]{40}$ ]]; then echo "$3: fingerprint must be 40 hex digits, not a short key id" >&2; exit 1; fi; \
      curl -fsSL --proto '=https' --tlsv1.2 "$1" | gpg --batch --quiet --import; \
      gpg --batch --export "$want" > "/etc/apt/keyrings/$3.gpg"; \
      if [ ! -s "/etc/apt/keyrings/$3.gpg" ]; then echo "no key with fingerprint $want at $1" >&2; exit 1; fi; \
      chmod 0644 "/etc/apt/keyrings/$3.gpg"; \
    }; \
    trust_key "$PGDG_KEY_URL" "$PGDG_KEY_FINGERPRINT" pgdg; \
    trust_key "$REDIS_KEY_URL" "$REDIS_KEY_FINGERPRINT" redis; \
    trust_key "$MONGODB_KEY_URL" "$MONGODB_KEY_FINGERPRINT" mongodb; \
    trust_key "$PGADMIN_KEY_URL" "$PGADMIN_KEY_FINGERPRINT" pgadmin; \
    gpgconf --kill all; \
    codename="$(. /etc/os-release && echo "$VERSION_CODENAME")"; \
    echo "deb [signed-by=/etc/apt/keyrings/pgdg.gpg] ${PGDG_REPO} ${codename}-pgdg main" > /etc/apt/sources.list.d/pgdg.list; \
    echo "deb [signed-by=/etc/apt/keyrings/redis.gpg] ${REDIS_REPO} ${codename} main" > /etc/apt/sources.list.d/redis.list; \
    echo "deb [signed-by=/etc/apt/keyrings/mongodb.gpg] ${MONGODB_REPO} ${codename}/mongodb-org/${MONGODB_SERIES} multiverse" > /etc/apt/sources.list.d/mongodb.list; \
    echo "deb [signed-by=/etc/apt/keyrings/pgadmin.gpg] ${PGADMIN_REPO%/}/${codename} pgadmin4 main" > /etc/apt/sources.list.d/pgadmin.list; \
    apt-get update; \
    # The newest release of the chosen Redis line. redis-tools is pinned
    # with it, or apt would pair the server with a later line's tools. awk
    # reads to the end so apt-cache never meets a closed pipe.
    redis_version="$(apt-cache madison redis-server | awk -F' *[|] *' -v s="$REDIS_SERIES" \
      'BEGIN { gsub(/[.]/, "[.]", s); re = "^([0-9]+:)?" s "[.]" } $2 ~ re && !v { v = $2 } END { print v }')"; \
    if [ -z "$redis_version" ]; then echo "no redis-server ${REDIS_SERIES}.x in the configured repositories" >&2; exit 1; fi; \
    # The list names PostgreSQL's major (postgresql-15); Redis is pinned.
    pg_major=; \
    for i in "${!packages[@]}"; do \
      case "${packages[$i]}" in \
        postgresql-[0-9]*) pg_major="${packages[$i]#postgresql-}" ;; \
        redis-server|redis-tools) packages[$i]="${packages[$i]}=${redis_version}" ;; \
      esac; \
    done; \
    if [[ ! "$pg_major" =~ ^[0-9]+$ ]]; then echo "packages.list names no postgresql-<major> package" >&2; exit 1; fi; \
    # mongod's maintainer scripts may call systemctl, which a container
    # does not have; let those calls succeed as no-ops during the install.
    ln -s /bin/true /usr/local/bin/systemctl; \
    apt-get install -y --no-install-recommends "${packages[@]}"; \
    rm /usr/local/bin/systemctl; \
    if [ -n "$made_policy" ]; then rm /usr/sbin/policy-rc.d; fi; \
    # The package creates a cluster of its own. Only vanta init owns
    # PostgreSQL (its cluster is $DATA/postgres); a second cluster in the
    # image is one that something could start by mistake. The on-disk
    # format of $DATA/postgres belongs to one major: changing the list's
    # postgresql-<major> on an existing volume needs pg_upgrade (see
    # "Upgrading PostgreSQL" in docs/OPERATIONS.md), not only a rebuild.
    if pg_lsclusters -h | awk -v m="$pg_major" '$1 == m && $2 == "main" { found = 1 } END { exit !found }'; then \
      pg_dropcluster --stop "$pg_major" main; \
    fi; \
    rm -rf "/var/lib/postgresql/${pg_major}/main" "/etc/postgresql/${pg_major}/main"; \
    # Running as root, vanta init runs each service as its own system
    # user: postgres (PostgreSQL refuses root), redis, mongodb (mongod, and
    # Mongo Express) and pgadmin. The packages normally create the first
    # three; pgadmin4-server creates none.
    for u in postgres redis mongodb pgadmin; do \
      if ! id -u "$u" >/dev/null 2>&1; then \
        useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$u"; \
      fi; \
    done; \
    # Fail the build, not the first boot, when a repository served the
    # wrong line or layout: vanta init finds PostgreSQL under
    # /usr/lib/postgresql, and pgAdmin under /usr/pgadmin4.
    test -x "/usr/lib/postgresql/${pg_major}/bin/postgres"; \
    test -x "/usr/lib/postgresql/${pg_major}/bin/initdb"; \
    mongo_version="$(dpkg-query -W -f='${Version}' mongodb-org-server)"; \
    if [[ "${mongo_version#*:}" != "${MONGODB_SERIES}."* ]]; then echo "mongodb-org-server is $mongo_version, want ${MONGODB_SERIES}.x" >&2; exit 1; fi; \
    if [[ "$(redis-server --version)" != *" v=${REDIS_SERIES}."* ]]; then echo "redis-server is not ${REDIS_SERIES}.x: $(redis-server --version)" >&2; exit 1; fi; \
    command -v mongodump >/dev/null || { echo "no mongodump: backups of mongod's data need mongodb-database-tools" >&2; exit 1; }; \
    for f in /usr/pgadmin4/venv/bin/python3 /usr/pgadmin4/web/pgAdmin4.py; do \
      if [ ! -e "$f" ]; then echo "pgadmin4-server did not install $f, where vanta init looks for pgAdmin" >&2; exit 1; fi; \
    done; \
    # Build-only tools go; apt verifies with gpgv, which stays.
    apt-get purge -y --auto-remove curl gnupg; \
    rm -rf "$GNUPGHOME" /var/lib/apt/lists/* /tmp/packages.list; \
    # Made before VOLUME, so a new named volume starts with the mode that
    # vanta init gives the data directory.
    install -d -m 0711 /var/lib/vanta

# Node.js and Mongo Express: read-only, owned by root.
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/vanta/mongo-express /usr/local/lib/vanta/mongo-express
# llama-server on PATH (the appliance's default VANTA_LLAMA_SERVER), and a
# CUDA build's libraries (none for the CPU build).
COPY --from=llama /out/bin/llama-server /usr/local/bin/llama-server
COPY --from=llama /out/lib/ /usr/local/lib/vanta/llama/
COPY --from=build /out/vanta /usr/local/bin/vanta
COPY rootfs/ /

# Prove at build time that the copied binaries run on this base (glibc and
# libstdc++): only libcuda.so.1, the driver's, may be missing until a GPU is
# given to the container.
RUN echo /usr/local/lib/vanta/llama > /etc/ld.so.conf.d/vanta-llama.conf; \
    ldconfig; \
    node --version; \
    vanta version; \
    missing="$(ldd /usr/local/bin/llama-server | awk '/not found/ && $1 !~ /^libcuda[.]so/ { print $1 }')"; \
    if [ -n "$missing" ]; then echo "llama-server lacks: $missing" >&2; exit 1; fi

ARG VERSION=dev
ARG REVISION=
ARG CREATED=
LABEL org.opencontainers.image.title="Vanta Ledger" \
      org.opencontainers.image.description="Vanta Ledger appliance: vanta init supervising PostgreSQL, Redis, MongoDB, llama.cpp, pgAdmin and Mongo Express" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.vendor="Vanta Ledger" \
      org.opencontainers.image.base.name="ubuntu:22.04"

# No USER: vanta init must start as root to run each service as its own
# system user. These three equal rootfs/etc/vanta/image.conf (the rootfs
# test's environment) and the README's image section.
ENV VANTA_DATA=/var/lib/vanta \
    VANTA_LISTEN=:8443 \
    VANTA_MONGO_EXPRESS=/usr/local/lib/vanta/mongo-express
VOLUME /var/lib/vanta
# HTTPS: a self-signed certificate made at first boot (its fingerprint and the
# one-time setup token are in `docker logs`), or VANTA_TLS_CERT/VANTA_TLS_KEY.
# pgAdmin, Mongo Express and the model servers listen on loopback only; they
# are reached through the API (/admin/pgadmin/, /admin/mongo/).
EXPOSE 8443/tcp

# SIGTERM starts the ordered shutdown; see the note on --stop-timeout above.
STOPSIGNAL SIGTERM

# Asks the running init over its control socket (not HTTPS, so there is no
# certificate to trust); healthy only when every
# enabled critical service is. Sealed counts as healthy here, so that an
# orchestrator never restarts the container while custodians are entering
# shares (plain `vanta ctl status --check` does fail while sealed). The start
# period covers a first boot's initdb and a long PostgreSQL crash recovery.
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=3 CMD ["vanta","ctl","status","--check","--allow-sealed"]

# vanta init is PID 1 itself (it reaps orphans and forwards signals), so no
# tini or dumb-init in front of it.
ENTRYPOINT ["vanta","init"]
