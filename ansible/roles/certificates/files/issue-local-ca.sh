# issue-local-ca.sh CA_DIR STAGE CA_DAYS DAYS < lines "NAME HOSTNAMES" (HOSTNAMES joined by
# commas), on the control node: the stage's CA, made once and kept (it is on the data disk),
# then a key and a certificate per line, in one call (a task per certificate and step costs
# about half a second each). A certificate file is named by its name list, so adding a
# hostname issues a new one and an unchanged certificate is kept; fullchain.pem is the
# current one. Keys are readable by root only, in directories only root may enter. Prints
# "changed" when it made or replaced anything.
set -eu
ca=$1 stage=$2 ca_days=$3 days=$4
changed=no

private_dir() {
  mkdir -p "$1"
  chown root:root "$1"
  chmod 0700 "$1"
}

key() { # key FILE: an EC P-256 key, made once
  if [ ! -f "$1" ]; then
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"
    changed=yes
  fi
  chown root:root "$1"
  chmod 0600 "$1"
}

private_dir "$ca"
private_dir "$ca/certs"
key "$ca/ca.key"
if [ ! -f "$ca/ca.crt" ]; then
  openssl req -x509 -new -key "$ca/ca.key" -subj "/CN=homeprod $stage CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -days "$ca_days" -out "$ca/ca.crt"
  changed=yes
fi

while read -r name hostnames; do
  [ -n "$name" ] || continue
  dir=$ca/certs/$name
  private_dir "$dir"
  key "$dir/privkey.pem"
  cert=$dir/$(printf '%s' "$hostnames" | sha1sum | cut -c1-12).pem
  if [ ! -f "$cert" ]; then
    openssl req -new -x509 -key "$dir/privkey.pem" -CA "$ca/ca.crt" -CAkey "$ca/ca.key" -subj "/CN=$name" \
      -addext "subjectAltName=DNS:$(printf '%s' "$hostnames" | sed 's/,/,DNS:/g')" \
      -addext basicConstraints=critical,CA:FALSE -addext extendedKeyUsage=serverAuth \
      -days "$days" -out "$cert"
    changed=yes
  fi
  if ! cmp -s "$cert" "$dir/fullchain.pem"; then
    install -o root -g root -m 0644 "$cert" "$dir/.fullchain.pem.new"
    mv -f "$dir/.fullchain.pem.new" "$dir/fullchain.pem"
    changed=yes
  fi
done

[ "$changed" = no ] || echo changed
