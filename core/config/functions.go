package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// MaxSecretFileSize bounds what file() and *_file attributes read.
const MaxSecretFileSize = 64 << 10

// functions returns the functions available in configuration expressions.
// env and file read through the injected Options so tests and the fuzzer
// never touch the real environment or disk.
func (d *decoder) functions() map[string]function.Function {
	return map[string]function.Function{
		"env": function.New(&function.Spec{
			Description: "Returns the value of an environment variable, or the optional default when it is not set.",
			Params:      []function.Parameter{{Name: "name", Type: cty.String}},
			VarParam:    &function.Parameter{Name: "default", Type: cty.String},
			Type:        function.StaticReturnType(cty.String),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				name := args[0].AsString()
				if len(args) > 2 {
					return cty.NilVal, fmt.Errorf("env takes a name and at most one default value")
				}
				if v, ok := d.opts.LookupEnv(name); ok {
					return cty.StringVal(v), nil
				}
				if len(args) == 2 {
					return args[1], nil
				}
				return cty.NilVal, fmt.Errorf("environment variable %s is not set", name)
			},
		}),
		"file": function.New(&function.Spec{
			Description: "Returns the content of a file, relative to the configuration file's directory.",
			Params:      []function.Parameter{{Name: "path", Type: cty.String}},
			Type:        function.StaticReturnType(cty.String),
			Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
				b, err := d.readSmallFile(args[0].AsString())
				if err != nil {
					return cty.NilVal, err
				}
				return cty.StringVal(string(b)), nil
			},
		}),
		"trimspace": stdlib.TrimSpaceFunc,
		"upper":     stdlib.UpperFunc,
		"lower":     stdlib.LowerFunc,
	}
}

// readSmallFile reads a secret or similar small file relative to BaseDir.
func (d *decoder) readSmallFile(name string) ([]byte, error) {
	if name == "" {
		return nil, fmt.Errorf("empty file name")
	}
	p := d.resolvePath(name)
	b, err := d.opts.ReadFile(p)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is already in the message
		}
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	if len(b) > MaxSecretFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", p, MaxSecretFileSize)
	}
	return b, nil
}

func (d *decoder) resolvePath(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(d.base, p)
}
