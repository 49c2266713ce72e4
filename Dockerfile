# syntax=docker/dockerfile:1
#
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
FROM golang:1.26-bookworm AS build

# The image's own toolchain builds it: a go.mod asking for a newer Go must
# fail here rather than fetch another toolchain behind our back.
ENV GOTOOLCHAIN=local

WORKDIR /src

# Modules first, so that editing the source does not refetch them.
COPY go.mod go.sum ./
RUN go mod download

COPY . .

# Without a default an empty -X would blank the version `vanta version` prints.
ARG VERSION=dev
# Static: the runtime image has no Go, and os/user then reads /etc/passwd
# itself, which is all `vanta init` needs to find the service users.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/vanta ./cmd/vanta

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
# 7.2 is the newest Redis line under the BSD licence and the behaviour the
# appliance is tested against (ACL file, shutdown-on-sigterm); the vendor
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
    apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates curl gnupg; \
    export GNUPGHOME="$(mktemp -d)"; \
    install -d -m 0755 /etc/apt/keyrings; \
    # trust_key URL FINGERPRINT NAME: import the file into a scratch keyring \
    # and export only the key with that fingerprint; nothing exported, or \
    # nothing matching, fails the build. \
    trust_key() { \
      local want; want="$(tr -d ' ' <<<"$2" | tr 'a-f' 'A-F')"; \
      curl -fsSL --proto '=https' --tlsv1.2 "$1" | gpg --batch --quiet --import; \
      gpg --batch --export "$want" > "/etc/apt/keyrings/$3.gpg"; \
      if [ ! -s "/etc/apt/keyrings/$3.gpg" ]; then echo "no key with fingerprint $want at $1" >&2; exit 1; fi; \
      chmod 0644 "/etc/apt/keyrings/$3.gpg"; \
    }; \
    trust_key "$PGDG_KEY_URL" "$PGDG_KEY_FINGERPRINT" pgdg; \
    trust_key "$REDIS_KEY_URL" "$REDIS_KEY_FINGERPRINT" redis; \
    trust_key "$MONGODB_KEY_URL" "$MONGODB_KEY_FINGERPRINT" mongodb; \
    codename="$(. /etc/os-release && echo "$VERSION_CODENAME")"; \
    echo "deb [signed-by=/etc/apt/keyrings/pgdg.gpg] ${PGDG_REPO} ${codename}-pgdg main" > /etc/apt/sources.list.d/pgdg.list; \
    echo "deb [signed-by=/etc/apt/keyrings/redis.gpg] ${REDIS_REPO} ${codename} main" > /etc/apt/sources.list.d/redis.list; \
    echo "deb [signed-by=/etc/apt/keyrings/mongodb.gpg] ${MONGODB_REPO} ${codename}/mongodb-org/${MONGODB_SERIES} multiverse" > /etc/apt/sources.list.d/mongodb.list; \
    apt-get update; \
    # The newest release of the chosen Redis line; redis-tools must be \
    # pinned with it, or apt pairs the server with a later line's tools. \
    redis_version="$(apt-cache madison redis-server \
      | awk -F' *[|] *' -v s="${REDIS_SERIES}." 'index($2, s) == 1 || index($2, ":" s) > 0 { print $2; exit }')"; \
    if [ -z "$redis_version" ]; then echo "no redis-server ${REDIS_SERIES}.x in the configured repositories" >&2; exit 1; fi; \
    # mongod's maintainer scripts call systemctl, which a container lacks. \
    ln -s /bin/true /usr/local/bin/systemctl; \
    apt-get install -y --no-install-recommends \
      "postgresql-${PG_MAJOR}" \
      "redis-server=${redis_version}" "redis-tools=${redis_version}" \
      mongodb-org-server \
      tesseract-ocr tesseract-ocr-eng poppler-utils; \
    rm /usr/local/bin/systemctl; \
    # The package makes a cluster of its own; only vanta init may own \
    # PostgreSQL (its cluster lives in $DATA/postgres), so nothing else \
    # could ever be started against a second one by mistake. \
    if pg_lsclusters -h | awk -v m="$PG_MAJOR" '$1 == m && $2 == "main" { found = 1 } END { exit !found }'; then \
      pg_dropcluster "$PG_MAJOR" main; \
    fi; \
    rm -rf "/var/lib/postgresql/${PG_MAJOR}/main" "/etc/postgresql/${PG_MAJOR}/main"; \
    # Running as root, vanta init drops each server to its own user \
    # (PostgreSQL refuses root); normally the packages have made them. \
    for u in postgres redis; do \
      if ! id -u "$u" >/dev/null 2>&1; then \
        useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$u"; \
      fi; \
    done; \
    # Fail the build, not the first boot, if a repository served the wrong line. \
    test -x "/usr/lib/postgresql/${PG_MAJOR}/bin/postgres"; \
    test -x "/usr/lib/postgresql/${PG_MAJOR}/bin/initdb"; \
    dpkg-query -W -f='${Version}\n' mongodb-org-server | grep -q "^\([0-9]*:\)\?${MONGODB_SERIES//./\\.}\."; \
    # Build-only tools go; apt keeps working with the keyrings above. \
    apt-get purge -y --auto-remove curl gnupg; \
    rm -rf "$GNUPGHOME" /var/lib/apt/lists/*; \
    # The distribution config files are unused: vanta init writes each \
    # server's config into the data directory at every boot. \
    install -d -m 0711 /var/lib/vanta

COPY --from=build /out/vanta /usr/local/bin/vanta
COPY rootfs/ /

# No USER: vanta init starts as root so it can run each service as its own
# system user; it never serves anything as root itself beyond the API.
ENV VANTA_DATA=/var/lib/vanta VANTA_LISTEN=:8443
VOLUME /var/lib/vanta
EXPOSE 8443

# SIGTERM starts the ordered shutdown; see the note on --stop-timeout above.
STOPSIGNAL SIGTERM

# Asks the running init over its control socket; healthy only when every
# enabled critical service is. The start period covers a first boot's initdb
# and a long PostgreSQL crash recovery.
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=3 CMD ["vanta","ctl","status","--check"]

# vanta init is PID 1 itself (it reaps orphans and forwards signals), so no
# tini or dumb-init in front of it.
ENTRYPOINT ["vanta","init"]
