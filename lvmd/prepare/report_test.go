package prepare

import (
	"strings"
	"testing"

	"github.com/go-logr/logr/funcr"

	"github.com/toposuite/toposuite/internal/disk"
)

func TestReportLogAndErr(t *testing.T) {
	rep := &Report{VolumeGroups: []VGReport{
		{Name: "vg1", Result: ResultCreated, Message: "created from 1 devices", Devices: []DeviceReport{
			{Device: "/dev/sdb", Action: ActionWipeAndAdd, Reason: "listed under wipe: has a partition table (dos)", Wiped: []string{"dos"}},
		}},
		{Name: "vg2", Result: ResultRefused, Message: "nothing changed: 1 of 2 declared devices refused", Devices: []DeviceReport{
			{Device: "/dev/sdc", Action: ActionRefuse, Reason: "is mounted at /data",
				Problems: []disk.Reason{{Code: disk.ReasonMounted, Message: "is mounted at /data"}}},
			{Device: "/dev/loop6", LoopFile: "/var/lib/d.img", Loop: LoopAlreadyAttached, Action: ActionAdd, Reason: "blank"},
			{Device: "/dev/sdd", Action: ActionLeaveInPlace, Reason: "in the volume group but no longer declared; left in place"},
		}},
	}}
	var lines []string
	log := funcr.New(func(prefix, args string) { lines = append(lines, args) }, funcr.Options{})
	rep.Log(log)
	want := []string{
		`"level"=0 "msg"="volume group" "volumeGroup"="vg1" "result"="created" "dryRun"=false "message"="created from 1 devices"`,
		`"level"=0 "msg"="device" "volumeGroup"="vg1" "device"="/dev/sdb" "action"="wipeAndAdd" "reason"="listed under wipe: has a partition table (dos)" "wiped"=["dos"]`,
		`"level"=0 "msg"="volume group" "volumeGroup"="vg2" "result"="refused" "dryRun"=false "message"="nothing changed: 1 of 2 declared devices refused"`,
		`"msg"="device refused" "error"=null "volumeGroup"="vg2" "device"="/dev/sdc" "action"="refuse" "reason"="is mounted at /data"`,
		`"level"=0 "msg"="device" "volumeGroup"="vg2" "device"="/dev/loop6" "action"="add" "reason"="blank" "loopFile"="/var/lib/d.img" "loop"="alreadyAttached"`,
		`"level"=0 "msg"="device" "volumeGroup"="vg2" "device"="/dev/sdd" "action"="leaveInPlace" "reason"="in the volume group but no longer declared; left in place"`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("log:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	err := rep.Err()
	if err == nil || err.Error() != "1 device was refused, and the volume groups using them were left unchanged:\n  vg2: /dev/sdc: is mounted at /data" {
		t.Errorf("Err() = %v", err)
	}
	if (&Report{}).Err() != nil {
		t.Error("an empty report has an error")
	}
}
