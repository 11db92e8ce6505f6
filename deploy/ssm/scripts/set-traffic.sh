# SetTraffic: the canary version gets PERCENT of the traffic, the stable version the rest.
is_running "$VERSION" || fail "$VERSION is not running on this instance"
stable="$(serving)"
[ -n "$stable" ] && [ "$stable" != "$VERSION" ] || fail "$VERSION is already the stable version"
hook route "$stable" "$((100 - PERCENT))" "$VERSION" "$PERCENT"
rm -f "$ST/weights/"*
echo "$((100 - PERCENT))" >"$ST/weights/$stable"
echo "$PERCENT" >"$ST/weights/$VERSION"
echo "$SERVICE@$VERSION now gets $PERCENT% of the traffic"
