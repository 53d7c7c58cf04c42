package cluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"strings"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// pki is the cluster's credentials: a CA and the API server's certificate
// (valid for the bridge address, the service address and the usual DNS
// names), the service account key pair, and one static token per
// identity (--token-auth-file).
type pki struct {
	caPEM  []byte
	tokens map[string]string // identity -> token
}

// identities: name -> user, groups. Nodes are added per node.
type identity struct{ user, groups string }

func baseIdentities() map[string]identity {
	return map[string]identity{
		"admin":                   {"toposuite:admin", "system:masters"},
		"kube-controller-manager": {"system:kube-controller-manager", ""},
		"kube-scheduler":          {"system:kube-scheduler", ""},
		"snapshot-controller":     {"toposuite:snapshot-controller", "system:masters"},
	}
}

func (o *Options) writePKI(nodes int) (*pki, error) {
	dir := o.path("pki")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now().Add(-time.Hour)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "toposuite-cluster-ca"},
		NotBefore:             now,
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now,
		NotAfter:     now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP(hostIP), net.ParseIP(serviceIP), net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	saPub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return nil, err
	}
	srvKeyDER, err := x509.MarshalECPrivateKey(srvKey)
	if err != nil {
		return nil, err
	}
	p := &pki{caPEM: pemBlock("CERTIFICATE", caDER), tokens: map[string]string{}}
	files := map[string][]byte{
		"ca.crt":        p.caPEM,
		"apiserver.crt": pemBlock("CERTIFICATE", srvDER),
		"apiserver.key": pemBlock("EC PRIVATE KEY", srvKeyDER),
		"sa.key":        pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(saKey)),
		"sa.pub":        pemBlock("PUBLIC KEY", saPub),
	}
	ids := baseIdentities()
	for i := 1; i <= nodes; i++ {
		ids[nodeName(i)] = identity{"system:node:" + nodeName(i), "system:nodes"}
	}
	var csv strings.Builder
	for name, id := range ids {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		tok := hex.EncodeToString(b)
		p.tokens[name] = tok
		fmt.Fprintf(&csv, "%s,%s,%s", tok, id.user, id.user)
		if id.groups != "" {
			fmt.Fprintf(&csv, ",%q", id.groups)
		}
		csv.WriteString("\n")
	}
	files["tokens.csv"] = []byte(csv.String())
	for name, b := range files {
		if err := os.WriteFile(dir+"/"+name, b, 0o600); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// writeKubeconfig writes a kubeconfig for identity at file.
func (p *pki) writeKubeconfig(file, server, identity string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["toposuite"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: p.caPEM}
	cfg.AuthInfos[identity] = &clientcmdapi.AuthInfo{Token: p.tokens[identity]}
	cfg.Contexts["toposuite"] = &clientcmdapi.Context{Cluster: "toposuite", AuthInfo: identity}
	cfg.CurrentContext = "toposuite"
	return clientcmd.WriteToFile(*cfg, file)
}
