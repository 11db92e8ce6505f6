# Revert: back to a version this host has run, started again from its release on disk if it stopped.
if ! is_running "$VERSION"; then
  [ -e "$REL/$VERSION/.release-digest" ] || fail "release $VERSION is not on this instance; deploy it first"
  DIGEST="$(cat "$REL/$VERSION/.release-digest")"
  hook start "$VERSION" "$REL/$VERSION"
  touch "$ST/running/$VERSION"
fi
switch_to "$VERSION"
echo "reverted $SERVICE to $VERSION"
