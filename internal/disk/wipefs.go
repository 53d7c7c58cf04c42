package disk

import (
	"encoding/json"
	"fmt"
)

// Signature is a magic string on a device that tells what it holds: a
// filesystem, a partition table, an LVM or RAID member, swap.
type Signature struct {
	// Offset is where the magic is, in hexadecimal as wipefs prints it.
	Offset string `json:"offset"`
	Type   string `json:"type"`
	// Usage is libblkid's class: filesystem, partition-table, raid (which
	// includes LVM2_member), crypto or other (swap among them).
	Usage string `json:"usage"`
	UUID  string `json:"uuid,omitempty"`
	Label string `json:"label,omitempty"`
}

// Usage values of libblkid.
const (
	UsageFilesystem     = "filesystem"
	UsagePartitionTable = "partition-table"
	UsageRAID           = "raid"
	UsageCrypto         = "crypto"
	UsageOther          = "other"
)

// TypeLVM2Member is the signature of an LVM physical volume.
const TypeLVM2Member = "LVM2_member"

// wipefsColumns are the columns Signatures asks for; USAGE is what tells a
// partition table from a filesystem without a list of type names.
const wipefsColumns = "DEVICE,OFFSET,TYPE,USAGE,UUID,LABEL"

type wipefsOutput struct {
	Signatures []struct {
		Offset jsonString `json:"offset"`
		Type   jsonString `json:"type"`
		Usage  jsonString `json:"usage"`
		UUID   jsonString `json:"uuid"`
		Label  jsonString `json:"label"`
	} `json:"signatures"`
}

// ParseWipefs parses `wipefs --no-act --json --output <wipefsColumns> DEV`.
// A blank device prints an empty list.
func ParseWipefs(out []byte) ([]Signature, error) {
	var o wipefsOutput
	if err := json.Unmarshal(out, &o); err != nil {
		return nil, fmt.Errorf("parse wipefs output: %w", err)
	}
	var sigs []Signature
	for _, s := range o.Signatures {
		if s.Type == "" {
			return nil, fmt.Errorf("parse wipefs output: signature at offset %q without a type", s.Offset)
		}
		sigs = append(sigs, Signature{
			Offset: string(s.Offset), Type: string(s.Type), Usage: string(s.Usage),
			UUID: string(s.UUID), Label: string(s.Label),
		})
	}
	return sigs, nil
}
