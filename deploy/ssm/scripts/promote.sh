# Promote: the version serves all traffic; every other version stops.
is_running "$VERSION" || fail "$VERSION is not running on this instance"
switch_to "$VERSION"
echo "$SERVICE@$VERSION now serves all traffic"
