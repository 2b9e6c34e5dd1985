#!/usr/bin/env bash
# A fleet CA for facefleet, made with openssl: the CA itself, the control plane's (or a broker's)
# server certificate, and device certificates whose subject CN is the device id. ECDSA P-256 keys,
# SHA-256 signatures. See docs/tls.md for where each file goes.
#
#   infra/tls/fleet-ca.sh init DIR                      DIR/fleet-ca.crt and DIR/fleet-ca.key (10 years)
#   infra/tls/fleet-ca.sh server DIR NAME [SAN ...]     DIR/NAME.crt and .key: serverAuth, for the
#                                                       names and addresses in SAN (DNS:fleet.example,
#                                                       IP:10.0.0.5; default DNS:NAME), 825 days
#   infra/tls/fleet-ca.sh device DIR DEVICE_ID          DIR/DEVICE_ID.crt and .key: clientAuth,
#                                                       CN=DEVICE_ID, 825 days
#
# Keep fleet-ca.key offline: whoever holds it can make a certificate for any device. Every key is
# written mode 0600. Enroll a device certificate with `facefleet devices cert add DEVICE_ID FILE`.
set -euo pipefail

usage() { sed -n '2,/^[^#]/{/^#/p;}' "$0" | sed 's/^# \{0,1\}//'; }
die() { echo "fleet-ca.sh: $*" >&2; exit 2; }

[ $# -ge 2 ] || { usage >&2; exit 2; }
command=$1 dir=$2
shift 2
mkdir -p "$dir"
umask 077
ca_crt=$dir/fleet-ca.crt
ca_key=$dir/fleet-ca.key
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)

# sign NAME EXTENSIONS: DIR/NAME.csr → DIR/NAME.crt, signed by the fleet CA, with a random serial
sign() {
  [ -r "$ca_key" ] || die "no CA in $dir: run '$0 init $dir' first"
  printf '%s\n' "$2" >"$dir/$1.ext"
  openssl x509 -req -in "$dir/$1.csr" -CA "$ca_crt" -CAkey "$ca_key" -set_serial "0x$(openssl rand -hex 16)" \
    -days 825 -sha256 -extfile "$dir/$1.ext" -out "$dir/$1.crt" 2>/dev/null
  rm -f "$dir/$1.csr" "$dir/$1.ext"
  chmod 0644 "$dir/$1.crt"
  echo "$dir/$1.crt"
}

case "$command" in
  init)
    [ ! -e "$ca_key" ] || die "$ca_key exists: not overwriting a CA"
    openssl req -x509 "${ec[@]}" -keyout "$ca_key" -out "$ca_crt" -days 3650 -sha256 \
      -subj '/CN=facefleet fleet CA' \
      -addext 'basicConstraints=critical,CA:TRUE,pathlen:0' \
      -addext 'keyUsage=critical,keyCertSign,cRLSign' 2>/dev/null
    chmod 0644 "$ca_crt"
    echo "$ca_crt"
    ;;
  server)
    [ $# -ge 1 ] || die 'server needs a NAME'
    name=$1
    shift
    sans=("$@")
    [ ${#sans[@]} -gt 0 ] || sans=("DNS:$name")
    san_list=$(IFS=,; echo "${sans[*]}")
    openssl req -new "${ec[@]}" -keyout "$dir/$name.key" -out "$dir/$name.csr" -subj "/CN=$name" 2>/dev/null
    sign "$name" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$san_list"
    ;;
  device)
    [ $# -eq 1 ] || die 'device needs a DEVICE_ID'
    id=$1
    [[ $id =~ ^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$ ]] || die "'$id' is not a device id"
    openssl req -new "${ec[@]}" -keyout "$dir/$id.key" -out "$dir/$id.csr" -subj "/CN=$id" 2>/dev/null
    sign "$id" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
    ;;
  -h | --help | help) usage ;;
  *) die "unknown command '$command' (init, server, device)" ;;
esac
