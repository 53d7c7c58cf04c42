package main

import (
	"bytes"
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// A docker-archive tarball holds no image manifest: `ctr images import`
// (containerd's docker-archive importer) writes one itself, marshaling its
// own struct, whose field order differs from go-containerregistry's (digest
// before size). The same image would then have one digest here and another
// in containerd. importManifest fixes that: it gives the image the manifest,
// byte for byte, that containerd makes of the tarball, so that the digest
// Build reports is the one `ctr images ls` and the kubelet show after the
// import (and the one a registry would keep if the image were pushed with
// go-containerregistry). Checked against containerd 1.6.20 (Debian 12); the
// struct is the same in containerd 1.7 and 2.x.

// importDescriptor is an OCI descriptor's fields in the order of
// github.com/opencontainers/image-spec's Descriptor.
type importDescriptor struct {
	MediaType types.MediaType `json:"mediaType"`
	Digest    v1.Hash         `json:"digest"`
	Size      int64           `json:"size"`
}

// importManifestJSON is the manifest of containerd's importer
// (images/archive/importer.go).
type importManifestJSON struct {
	SchemaVersion int64              `json:"schemaVersion"`
	MediaType     types.MediaType    `json:"mediaType"`
	Config        importDescriptor   `json:"config"`
	Layers        []importDescriptor `json:"layers"`
}

// importManifest returns the manifest containerd makes when it imports img
// from a docker-archive tarball.
func importManifest(img v1.Image) ([]byte, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	if m.MediaType != types.DockerManifestSchema2 || m.Config.MediaType != types.DockerConfigJSON ||
		len(m.Annotations) > 0 || m.Subject != nil {
		return nil, fmt.Errorf("manifest %s with config %s, annotations %v, subject %v: not what a docker archive can carry",
			m.MediaType, m.Config.MediaType, m.Annotations, m.Subject)
	}
	out := importManifestJSON{
		SchemaVersion: 2,
		MediaType:     m.MediaType,
		Config:        importDescriptor{m.Config.MediaType, m.Config.Digest, m.Config.Size},
	}
	for _, l := range m.Layers {
		if l.MediaType != types.DockerLayer || len(l.URLs) > 0 || len(l.Annotations) > 0 {
			return nil, fmt.Errorf("layer %s: media type %s, urls %v, annotations %v: not what a docker archive can carry",
				l.Digest, l.MediaType, l.URLs, l.Annotations)
		}
		out.Layers = append(out.Layers, importDescriptor{l.MediaType, l.Digest, l.Size})
	}
	return json.Marshal(out)
}

// importImage is img with the manifest containerd gives it on import.
type importImage struct {
	v1.Image
	raw []byte
}

func withImportManifest(img v1.Image) (v1.Image, error) {
	raw, err := importManifest(img)
	if err != nil {
		return nil, err
	}
	return &importImage{Image: img, raw: raw}, nil
}

func (i *importImage) RawManifest() ([]byte, error) { return i.raw, nil }

func (i *importImage) Manifest() (*v1.Manifest, error) {
	return v1.ParseManifest(bytes.NewReader(i.raw))
}

func (i *importImage) Digest() (v1.Hash, error) {
	h, _, err := v1.SHA256(bytes.NewReader(i.raw))
	return h, err
}

func (i *importImage) Size() (int64, error) { return int64(len(i.raw)), nil }
