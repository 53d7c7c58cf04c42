// Package btrfsd: btrfs storage daemon of TopoLS: the storage daemon API over btrfs subvolumes and quota groups. It arrives with issue #3.
package btrfsd
