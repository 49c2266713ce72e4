# Vanta Ledger appliance image: one `vanta init` (PID 1) supervising
# PostgreSQL, Redis and mongod, all keeping their state under one volume.
#
# Ubuntu 22.04 ships PostgreSQL 14 and Redis 6.0, and no MongoDB at all, so
# three vendor apt repositories are added. Their addresses are not written
# here: pass them at build time. Every one of these is required and the build
# stops early, naming the missing one, when it is not given:
#
#   PGDG_REPO               base URI of the PostgreSQL project's apt repository
#   PGDG_KEY_URL            its archive signing key (armored or binary)
#   PGDG_KEY_FINGERPRINT    that key's full fingerprint, 40 hex digits
#   REDIS_REPO              base URI of the Redis project's apt repository
#   REDIS_KEY_URL, REDIS_KEY_FINGERPRINT
#   MONGODB_REPO            base URI of MongoDB's apt repository for Ubuntu
#   MONGODB_KEY_URL, MONGODB_KEY_FINGERPRINT   (the key of the 8.0 series)
#
# A key is trusted only if it carries the fingerprint given, and only that
# key is installed, so a tampered or swapped key file fails the build instead
# of quietly becoming a trusted signer.
#
#   docker build --build-arg VERSION=$(git describe --tags) \
#     --build-arg PGDG_REPO=... --build-arg PGDG_KEY_URL=... ... -t vanta .
#
# Stopping: `vanta init` splits its shutdown budget (VANTA_STOP_TIMEOUT,
# default 10s, matching docker's default) between the HTTP drain, the
# services and PostgreSQL last. When you raise it, raise
# `docker run --stop-timeout` to the same number of seconds: otherwise docker
# SIGKILLs the whole container while PostgreSQL is still checkpointing.

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

# The on-disk format of $DATA/postgres belongs to one PostgreSQL major:
# changing PG_MAJOR on an existing volume needs pg_upgrade, not a rebuild.
ARG PG_MAJOR=15
# The appliance needs Redis 7 (its config uses shutdown-on-sigterm and an ACL
# file); 7.2 is the last 7.x line under the BSD licence. The vendor
# repository also carries later lines, which apt would otherwise prefer.
ARG REDIS_SERIES=7.2
ARG MONGODB_SERIES=8.0

# An ARG, not ENV: it matters to apt during the build only.
ARG DEBIAN_FRONTEND=noninteractive

SHELL ["/bin/bash", "-euo", "pipefail", "-c"]

RUN for v in PGDG_REPO PGDG_KEY_URL PGDG_KEY_FINGERPRINT \
             REDIS_REPO REDIS_KEY_URL REDIS_KEY_FINGERPRINT \
             MONGODB_REPO MONGODB_KEY_URL MONGODB_KEY_FINGERPRINT; do \
      if [ -z "${!v:-}" ]; then echo "build arg $v is required (see the top of the Dockerfile)" >&2; exit 1; fi; \
    done; \
    # Packages must not start their servers here: PostgreSQL would run on
    # the cluster we are about to drop, Redis on a config we never use.
    made_policy=; \
    if [ ! -e /usr/sbin/policy-rc.d ]; then \
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 0755 /usr/sbin/policy-rc.d; made_policy=1; \
    fi; \
    apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates curl gnupg; \
    export GNUPGHOME="$(mktemp -d)"; \
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
    gpgconf --kill all; \
    codename="$(. /etc/os-release && echo "$VERSION_CODENAME")"; \
    echo "deb [signed-by=/etc/apt/keyrings/pgdg.gpg] ${PGDG_REPO} ${codename}-pgdg main" > /etc/apt/sources.list.d/pgdg.list; \
    echo "deb [signed-by=/etc/apt/keyrings/redis.gpg] ${REDIS_REPO} ${codename} main" > /etc/apt/sources.list.d/redis.list; \
    echo "deb [signed-by=/etc/apt/keyrings/mongodb.gpg] ${MONGODB_REPO} ${codename}/mongodb-org/${MONGODB_SERIES} multiverse" > /etc/apt/sources.list.d/mongodb.list; \
    apt-get update; \
    # The newest release of the chosen Redis line. redis-tools is pinned
    # with it, or apt would pair the server with a later line's tools. awk
    # reads to the end so apt-cache never meets a closed pipe.
    redis_version="$(apt-cache madison redis-server | awk -F' *[|] *' -v s="$REDIS_SERIES" \
      'BEGIN { gsub(/[.]/, "[.]", s); re = "^([0-9]+:)?" s "[.]" } $2 ~ re && !v { v = $2 } END { print v }')"; \
    if [ -z "$redis_version" ]; then echo "no redis-server ${REDIS_SERIES}.x in the configured repositories" >&2; exit 1; fi; \
    # mongod's maintainer scripts may call systemctl, which a container
    # does not have; let those calls succeed as no-ops during the install.
    ln -s /bin/true /usr/local/bin/systemctl; \
    apt-get install -y --no-install-recommends \
      "postgresql-${PG_MAJOR}" pgbackrest \
      "redis-server=${redis_version}" "redis-tools=${redis_version}" \
      mongodb-org-server \
      tesseract-ocr tesseract-ocr-eng poppler-utils; \
    rm /usr/local/bin/systemctl; \
    if [ -n "$made_policy" ]; then rm /usr/sbin/policy-rc.d; fi; \
    # The package creates a cluster of its own. Only vanta init owns
    # PostgreSQL (its cluster is $DATA/postgres); a second cluster in the
    # image is one that something could start by mistake.
    if pg_lsclusters -h | awk -v m="$PG_MAJOR" '$1 == m && $2 == "main" { found = 1 } END { exit !found }'; then \
      pg_dropcluster --stop "$PG_MAJOR" main; \
    fi; \
    rm -rf "/var/lib/postgresql/${PG_MAJOR}/main" "/etc/postgresql/${PG_MAJOR}/main"; \
    # Running as root, vanta init runs PostgreSQL (which refuses root) and
    # Redis as these users; the packages normally create them.
    for u in postgres redis; do \
      if ! id -u "$u" >/dev/null 2>&1; then \
        useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$u"; \
      fi; \
    done; \
    # Fail the build, not the first boot, when a repository served the
    # wrong line: vanta init finds PostgreSQL under /usr/lib/postgresql.
    test -x "/usr/lib/postgresql/${PG_MAJOR}/bin/postgres"; \
    test -x "/usr/lib/postgresql/${PG_MAJOR}/bin/initdb"; \
    mongo_version="$(dpkg-query -W -f='${Version}' mongodb-org-server)"; \
    if [[ "${mongo_version#*:}" != "${MONGODB_SERIES}."* ]]; then echo "mongodb-org-server is $mongo_version, want ${MONGODB_SERIES}.x" >&2; exit 1; fi; \
    # Build-only tools go; apt verifies with gpgv, which stays.
    apt-get purge -y --auto-remove curl gnupg; \
    rm -rf "$GNUPGHOME" /var/lib/apt/lists/*; \
    # Made before VOLUME, so a new named volume starts with the mode that
    # vanta init gives the data directory.
    install -d -m 0711 /var/lib/vanta

COPY --from=build /out/vanta /usr/local/bin/vanta
COPY rootfs/ /

# No USER: vanta init must start as root to run PostgreSQL and Redis as
# their own system users.
ENV VANTA_DATA=/var/lib/vanta VANTA_LISTEN=:8443
VOLUME /var/lib/vanta
# HTTPS: a self-signed certificate made at first boot (its fingerprint and the
# one-time setup token are in `docker logs`), or VANTA_TLS_CERT/VANTA_TLS_KEY.
EXPOSE 8443

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
