# pack-certificates.sh < lines "NAME FULLCHAIN PRIVKEY" (plain names and paths), on the issuer: every pair as
# NAME/fullchain.pem and NAME/privkey.pem in one base64 gzip tar on stdout, for the stage
# proxy to install in one call. The copies live in a private directory only while packing.
set -eu
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
while read -r name fullchain privkey; do
  [ -n "$name" ] || continue
  for file in "$fullchain" "$privkey"; do
    if [ ! -f "$file" ]; then
      echo "$file is missing on the issuer (certificate $name)" >&2
      exit 3
    fi
  done
  mkdir "$work/$name"
  cp "$fullchain" "$work/$name/fullchain.pem"
  cp "$privkey" "$work/$name/privkey.pem"
done
tar -cz -C "$work" --owner=0 --group=0 . | base64 -w0
echo
