// Package configfile loads the suite's configuration files one way: YAML
// decoded strictly (an unknown or duplicated key is an error naming it),
// then defaulted by the config type itself.
package configfile

import (
	"errors"
	"fmt"
	"os"

	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Defaulter fills a config's unset fields.
type Defaulter interface{ Default() }

// Parse decodes data strictly into a new T and applies its defaults. Keys
// match case-sensitively (encoding/json would take socketname for
// socketName), and unknown or duplicated keys are errors.
func Parse[T any, PT interface {
	*T
	Defaulter
}](data []byte) (*T, error) {
	j, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, err
	}
	var c T
	strictErrs, err := kjson.UnmarshalStrict(j, &c)
	if err != nil {
		return nil, err
	}
	if len(strictErrs) > 0 {
		return nil, errors.Join(strictErrs...)
	}
	PT(&c).Default()
	return &c, nil
}

// Load reads and parses a file; errors name it.
func Load[T any, PT interface {
	*T
	Defaulter
}](path string) (*T, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := Parse[T, PT](data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
