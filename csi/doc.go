// Package csi: CSI Identity, Controller and Node services shared by topolvm.io and topols.io. They arrive with issue #4.
package csi
