package lvmd

import (
	"fmt"

	"github.com/toposuite/toposuite/lvmd/lvm"
)

// health returns why a volume is not healthy, in words a person can act
// on, or "" when it is. LVM's lv_attr bits say most of it (lvm.Attr.Health);
// two faults need more than the LV's own bits:
//   - a VG that lost a PV marks the LVs with extents there partial; the
//     bit alone does not say that a disk is gone;
//   - a full thin pool fails the writes of every thin volume in it, yet
//     only the pool's own bits and figures show it. The pool's figures are
//     those of lvmd's last poll (every second by default).
func (b *Backend) health(lv lvm.LV) string {
	if lv.Attr[8] == 'p' {
		return fmt.Sprintf("the volume group %s lost a physical volume: part of this volume is on a disk LVM cannot find, and reads and writes there fail", lv.VG)
	}
	if msg := lv.Attr.Health(); msg != "" {
		return msg
	}
	if lv.Pool == "" {
		return ""
	}
	key := lv.VG + "/" + lv.Pool
	b.mu.Lock()
	p := b.st.pools[key]
	var data, meta float64
	if p != nil {
		data, meta = p.dataPct, p.metadataPct
	}
	b.mu.Unlock()
	switch {
	case data >= 100:
		return fmt.Sprintf("thin pool %s is 100%% full: writes fail", key)
	case meta >= 100:
		return fmt.Sprintf("the metadata of thin pool %s is 100%% full: writes fail", key)
	}
	return ""
}
