# Status: one JSON object on standard output (serving, weights, versions with digest and health).
stable="$(serving)"
if [ -n "$stable" ]; then printf '{"serving":"%s","weights":{' "$stable"; else printf '{"serving":null,"weights":{'; fi
sep=''
for file in "$ST/weights/"*; do
  [ -e "$file" ] || continue
  printf '%s"%s":%s' "$sep" "${file##*/}" "$(cat "$file")"
  sep=','
done
printf '},"versions":{'
sep=''
for file in "$ST/running/"*; do
  [ -e "$file" ] || continue
  v="${file##*/}"
  healthy=true
  (hook health "$v") >/dev/null 2>&1 || healthy=false
  printf '%s"%s":{"digest":"%s","healthy":%s}' "$sep" "$v" "$(cat "$REL/$v/.release-digest" 2>/dev/null || echo unknown)" "$healthy"
  sep=','
done
printf '}}\n'
