package disk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// util-linux prints typed JSON values (numbers, booleans, null) since 2.33,
// but every value as a string before that, and lvmd may run an older lsblk
// or losetup on the host through nsenter. These types read both forms.

// jsonInt is an integer written as a number, a string, or null (zero).
type jsonInt int64

func (n *jsonInt) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*n = 0
		return nil
	}
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			*n = 0
			return nil
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("%s is not an integer", b)
	}
	*n = jsonInt(v)
	return nil
}

// jsonBool is a boolean written as true/false, "0"/"1", or null (false).
type jsonBool bool

func (v *jsonBool) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "true", `"1"`, `"true"`:
		*v = true
	case "false", `"0"`, `"false"`, "null", `""`:
		*v = false
	default:
		return fmt.Errorf("%s is not a boolean", b)
	}
	return nil
}

// jsonString is a string that may be null (empty).
type jsonString string

func (v *jsonString) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*v = ""
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*v = jsonString(s)
	return nil
}
