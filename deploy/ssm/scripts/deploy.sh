# Deploy: fetch the artifact by its URL, check its digest before unpacking, start the version at 0% of the traffic.
if is_running "$VERSION"; then
  have="$(cat "$REL/$VERSION/.release-digest" 2>/dev/null || echo unknown)"
  [ "$have" = "$DIGEST" ] || fail "$SERVICE@$VERSION already runs here with digest $have, not $DIGEST"
  echo "$SERVICE@$VERSION already runs"
  exit 0
fi
if [ "$(cat "$REL/$VERSION/.release-digest" 2>/dev/null || true)" != "$DIGEST" ]; then
  [ -n "$ARTIFACT_URL" ] || fail "no artifactUrl was given, so this host cannot fetch $SERVICE@$VERSION"
  download="$(mktemp "$DIR/.download.XXXXXX")"
  trap 'rm -f "$download"' EXIT
  if command -v curl >/dev/null 2>&1; then
    code="$(curl -sS --retry 3 --max-time 600 -o "$download" -w "%{http_code}" "$ARTIFACT_URL" || true)"
    [ "$code" = 200 ] || fail "the artifact URL answered $code: $(head -c 300 "$download" 2>/dev/null || true)"
  else
    wget -q -T 600 -O "$download" "$ARTIFACT_URL" || fail "could not fetch the artifact (wget exit $?)"
  fi
  got="sha256:$(sha256sum "$download" | cut -d ' ' -f 1)"
  [ "$got" = "$DIGEST" ] || fail "the artifact fetched hashes to $got, not $DIGEST: refusing to unpack it"
  rm -rf "$REL/$VERSION.new"
  mkdir -p "$REL/$VERSION.new"
  tar -xzf "$download" -C "$REL/$VERSION.new" --no-same-owner || fail "could not unpack $SERVICE@$VERSION"
  echo "$DIGEST" >"$REL/$VERSION.new/.release-digest"
  rm -rf "$REL/$VERSION"
  mv "$REL/$VERSION.new" "$REL/$VERSION"
  echo "fetched $SERVICE@$VERSION ($(wc -c <"$download" | tr -d ' ') bytes), digest checked, unpacked"
fi
hook start "$VERSION" "$REL/$VERSION"
touch "$ST/running/$VERSION"
if [ -n "$(serving)" ] && [ ! -e "$ST/weights/$VERSION" ]; then echo 0 >"$ST/weights/$VERSION"; fi
echo "started $SERVICE@$VERSION at 0% of the traffic"
