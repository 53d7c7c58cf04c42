package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
)

// State lists everything the cluster made outside its nodes' namespaces,
// written to <lab>/state.json before or right after each thing is made, so
// that Down can undo a run that was killed half way.
type State struct {
	mu   sync.Mutex
	file string

	// Processes in start order: the control plane and each node's init.
	Processes []Proc `json:"processes"`
	// Loops are the loop devices over the lab's disk files.
	Loops []Loop `json:"loops"`
	// Bridge is the host-only bridge, when made.
	Bridge string `json:"bridge,omitempty"`
	// Cgroups are the nodes' cgroup roots, one per hierarchy.
	Cgroups []string `json:"cgroups"`
	// Sysctls hold the values of the kernel settings the kubelets change,
	// as they were before the first kubelet started.
	Sysctls map[string]string `json:"sysctls,omitempty"`
	// Nodes are the node names with their init's PID (also in Processes).
	Nodes map[string]int `json:"nodes,omitempty"`
	// APIServer is the API server's URL, once it runs.
	APIServer string `json:"apiServer,omitempty"`
}

// Proc is a process the cluster started, told apart from a later process
// with the same PID by its start time (field 22 of /proc/<pid>/stat).
type Proc struct {
	Name  string `json:"name"`
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`
}

// Loop is a loop device and its backing file.
type Loop struct {
	Dev  string `json:"dev"`
	File string `json:"file"`
}

const stateName = "state.json"

// newState starts an empty state file; an existing one means a cluster is
// (or was) there and must be torn down first.
func newState(file string) (*State, error) {
	if _, err := os.Stat(file); err == nil {
		return nil, fmt.Errorf("%s exists: a cluster is up or was not torn down; run down first", file)
	}
	s := &State{file: file, Nodes: map[string]int{}}
	return s, s.save()
}

// loadState reads the state file; a missing one is an empty state.
func loadState(file string) (*State, error) {
	s := &State{file: file, Nodes: map[string]int{}}
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return s, nil
}

// update changes the state and writes it (atomically: a rename).
func (s *State) update(f func(s *State)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
	return s.save()
}

func (s *State) save() error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := s.file + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.file)
}
