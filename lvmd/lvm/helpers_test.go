package lvm

import "github.com/toposuite/toposuite/internal/exec"

func exitErr(code int, stderr string) error {
	return &exec.ExitError{Command: "lvm", ExitCode: code, Stderr: []byte(stderr)}
}
