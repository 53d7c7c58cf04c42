package disk

import (
	"encoding/json"
	"fmt"
)

// Loop is a loop device and the file behind it.
type Loop struct {
	Path     string `json:"path"`
	BackFile string `json:"backFile"`
	// Offset and SizeLimit are non-zero when the loop device maps only a
	// part of its file.
	Offset    int64 `json:"offset"`
	SizeLimit int64 `json:"sizeLimit"`
	ReadOnly  bool  `json:"readOnly"`
}

// Whole reports whether the loop device maps its whole file, writable: the
// only kind prepare reuses for a loop file.
func (l Loop) Whole() bool { return l.Offset == 0 && l.SizeLimit == 0 && !l.ReadOnly }

const losetupColumns = "NAME,BACK-FILE,OFFSET,SIZELIMIT,RO"

type losetupOutput struct {
	LoopDevices []struct {
		Name      jsonString `json:"name"`
		BackFile  jsonString `json:"back-file"`
		Offset    jsonInt    `json:"offset"`
		SizeLimit jsonInt    `json:"sizelimit"`
		RO        jsonBool   `json:"ro"`
	} `json:"loopdevices"`
}

// ParseLosetup parses `losetup --list --json --output <losetupColumns>`.
func ParseLosetup(out []byte) ([]Loop, error) {
	var o losetupOutput
	if err := json.Unmarshal(out, &o); err != nil {
		return nil, fmt.Errorf("parse losetup output: %w", err)
	}
	var loops []Loop
	for _, l := range o.LoopDevices {
		if l.Name == "" {
			return nil, fmt.Errorf("parse losetup output: loop device without a name")
		}
		if l.Offset < 0 || l.SizeLimit < 0 {
			return nil, fmt.Errorf("parse losetup output: %s has a negative offset or size limit", l.Name)
		}
		loops = append(loops, Loop{
			Path: string(l.Name), BackFile: string(l.BackFile),
			Offset: int64(l.Offset), SizeLimit: int64(l.SizeLimit), ReadOnly: bool(l.RO),
		})
	}
	return loops, nil
}
