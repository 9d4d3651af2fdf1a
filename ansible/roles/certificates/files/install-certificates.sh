# install-certificates.sh DIR < base64 gzip tar of NAME/{fullchain,privkey}.pem, on the stage
# proxy: places each pair under DIR/NAME (the directory 0750, the chain 0644, the key 0600,
# owned by root), replacing a file by a rename only when its content differs. Prints
# "changed" when any file was replaced.
set -eu
dir=$1
umask 077
mkdir -p "$dir"
work=$(mktemp -d "$dir/.incoming-XXXXXX")
trap 'rm -rf "$work"' EXIT
base64 -d | tar -xz -C "$work" --no-same-owner
changed=no
for pair in "$work"/*/; do
  [ -d "$pair" ] || continue
  name=$(basename "$pair")
  install -d -o root -g root -m 0750 "$dir/$name"
  for file in fullchain.pem:0644 privkey.pem:0600; do
    base=${file%%:*} mode=${file##*:}
    if ! cmp -s "$pair/$base" "$dir/$name/$base"; then
      install -o root -g root -m "$mode" "$pair/$base" "$dir/$name/.$base.new"
      mv -f "$dir/$name/.$base.new" "$dir/$name/$base"
      changed=yes
    else
      chown root:root "$dir/$name/$base"
      chmod "$mode" "$dir/$name/$base"
    fi
  done
done
[ "$changed" = no ] || echo changed
