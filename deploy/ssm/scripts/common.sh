# Shared by every release engine document: where a service lives on this host, a lock, hooks, and failures in words.
# Layout under $RELEASE_ENGINE_ROOT/<service> (default root /opt/release-engine):
#   releases/<version>/          the unpacked artifact, with .release-digest (kept after the version stops)
#   state/serving                the version serving the stable share of traffic
#   state/running/<version>      present while the version runs
#   state/weights/<version>      its share of the traffic, in percent
#   hooks/start|stop|route|health  how this host starts a version, stops it, splits traffic, checks health
set -eu
umask 027
ROOT="${RELEASE_ENGINE_ROOT:-/opt/release-engine}"
DIR="$ROOT/$SERVICE"
REL="$DIR/releases"
ST="$DIR/state"
mkdir -p "$REL" "$ST/running" "$ST/weights" "$DIR/hooks"

fail() {
  echo "$*" >&2
  exit 1
}

# One document at a time per service on this host (flock, where the host has it).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$DIR/.lock"
  flock -w 300 9 || fail "another release engine document held the lock of $SERVICE for 5 minutes"
fi

serving() {
  if [ -s "$ST/serving" ]; then cat "$ST/serving"; fi
}

is_running() {
  [ -e "$ST/running/$1" ]
}

# hook NAME ARGS...: runs hooks/NAME with the release's context in the environment; its output goes to standard error,
# so a document's standard output stays its own. Without the hook, start and stop use a systemd template unit
# <service>@<version>.service, and route fails: splitting traffic needs the host's proxy.
hook() {
  name="$1"
  shift
  if [ -x "$DIR/hooks/$name" ]; then
    RELEASE_SERVICE="$SERVICE" RELEASE_STEP="$STEP" RELEASE_REQUEST_ID="$REQUEST_ID" RELEASE_DIGEST="${DIGEST:-}" \
      RELEASE_DIR="$DIR" "$DIR/hooks/$name" "$@" 1>&2 || fail "hooks/$name $* failed (exit $?)"
    return 0
  fi
  case "$name" in
    start | stop)
      command -v systemctl >/dev/null 2>&1 ||
        fail "no hooks/$name in $DIR and no systemd on this host: install the hooks (README, Fleet drivers, SSM)"
      systemctl "$name" "$SERVICE@$1.service" 1>&2 || fail "systemctl $name $SERVICE@$1.service failed"
      ;;
    health) return 0 ;;
    *) fail "no hooks/$name in $DIR: this host cannot split traffic without it (README, Fleet drivers, SSM)" ;;
  esac
}

# Serves all traffic from $1 and stops every other running version (their releases stay on disk for a revert).
switch_to() {
  hook route "$1" 100
  printf '%s\n' "$1" >"$ST/serving.new" && mv "$ST/serving.new" "$ST/serving"
  rm -f "$ST/weights/"*
  echo 100 >"$ST/weights/$1"
  for file in "$ST/running/"*; do
    [ -e "$file" ] || continue
    other="${file##*/}"
    if [ "$other" != "$1" ]; then
      hook stop "$other"
      rm -f "$file"
    fi
  done
}
