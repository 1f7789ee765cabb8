#!/bin/sh
# Makes a CA and the webhook's serving certificate (for
# vouch-admission.vouch-system.svc), stores them as the Secret the
# Deployment mounts, and writes the CA into the webhook configurations and
# the Gatekeeper provider. Needs openssl and kubectl. With cert-manager,
# issue a Certificate into the Secret vouch-admission-tls instead and
# annotate the configurations with cert-manager.io/inject-ca-from.
set -eu
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
name=vouch-admission.vouch-system.svc
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
  -subj "/CN=vouch admission CA" -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -subj "/CN=$name" -keyout "$dir/tls.key" -out "$dir/tls.csr" 2>/dev/null
printf 'subjectAltName=DNS:%s,DNS:vouch-admission.vouch-system\nextendedKeyUsage=serverAuth\n' "$name" > "$dir/ext"
openssl x509 -req -in "$dir/tls.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
  -days 365 -extfile "$dir/ext" -out "$dir/tls.crt" 2>/dev/null
kubectl -n vouch-system create secret tls vouch-admission-tls \
  --cert="$dir/tls.crt" --key="$dir/tls.key" --dry-run=client -o yaml | kubectl apply -f -
bundle=$(base64 < "$dir/ca.crt" | tr -d '\n')
here=$(dirname "$0")
for f in webhooks.yaml gatekeeper-provider.yaml; do
  sed "s|REPLACE-WITH-THE-CA-BUNDLE|$bundle|" "$here/$f" > "$here/$f.local"
  echo "wrote $here/$f.local: kubectl apply -f it"
done
