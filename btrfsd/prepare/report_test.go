package prepare

import (
	"strings"
	"testing"

	"github.com/go-logr/logr/funcr"

	"github.com/toposuite/toposuite/internal/disk"
)

func TestReportLogAndErr(t *testing.T) {
	rep := &Report{Warnings: []string{"cannot list LVM physical volumes"}, Pools: []PoolReport{
		{Name: "fast", Path: "/p/fast", Result: ResultCreated, Message: "made it", UUID: uuidFast, Devices: []DeviceReport{
			{Device: "/dev/sdb", Action: ActionWipeAndUse, Reason: "listed under wipe: has a partition table (dos)", Wiped: []string{"dos"}},
		}},
		{Name: "slow", Path: "/p/slow", Result: ResultRefused, Message: "nothing changed: 1 of 1 declared devices refused", Devices: []DeviceReport{
			{Device: "/dev/sdc", Action: ActionRefuse, Reason: "is mounted at /data", Problems: []disk.Reason{{Code: disk.ReasonMounted, Message: "is mounted at /data"}}},
		}},
		{Name: "taken", Path: "/p/taken", Result: ResultRefused, Reason: "is a mount point already, of ext4 from /dev/sdd, not of a btrfs filesystem"},
		{Name: "old", Path: "/p/old", Result: ResultUnchanged, Devices: []DeviceReport{
			{Device: "/dev/sde", Action: ActionLeaveInPlace, Reason: "no longer declared"},
		}},
	}}
	var lines []string
	log := funcr.New(func(_, args string) { lines = append(lines, args) }, funcr.Options{})
	rep.Log(log)
	want := []string{
		`"level"=0 "msg"="warning" "message"="cannot list LVM physical volumes"`,
		`"level"=0 "msg"="pool" "pool"="fast" "path"="/p/fast" "result"="created" "dryRun"=false "message"="made it" "uuid"="` + uuidFast + `"`,
		`"level"=0 "msg"="device" "pool"="fast" "device"="/dev/sdb" "action"="wipeAndUse" "reason"="listed under wipe: has a partition table (dos)" "wiped"=["dos"]`,
		`"level"=0 "msg"="pool" "pool"="slow" "path"="/p/slow" "result"="refused" "dryRun"=false "message"="nothing changed: 1 of 1 declared devices refused"`,
		`"msg"="device refused" "error"=null "pool"="slow" "device"="/dev/sdc" "action"="refuse" "reason"="is mounted at /data"`,
		`"msg"="pool refused" "error"=null "pool"="taken" "path"="/p/taken" "result"="refused" "dryRun"=false "reason"="is a mount point already, of ext4 from /dev/sdd, not of a btrfs filesystem"`,
		`"level"=0 "msg"="pool" "pool"="old" "path"="/p/old" "result"="unchanged" "dryRun"=false`,
		`"level"=0 "msg"="device" "pool"="old" "device"="/dev/sde" "action"="leaveInPlace" "reason"="no longer declared"`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("log:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	err := rep.Err()
	if err == nil || err.Error() != "1 device and 1 pool path were refused, and the pools concerned were left unchanged:\n"+
		"  slow: /dev/sdc: is mounted at /data\n  taken: /p/taken: is a mount point already, of ext4 from /dev/sdd, not of a btrfs filesystem" {
		t.Errorf("Err() = %v", err)
	}
	if (&Report{}).Err() != nil {
		t.Error("an empty report has an error")
	}
}
