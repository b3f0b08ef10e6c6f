// Package codegen stands in for pulumi-yaml's program generator, which the module proxy refuses.
// The bridge calls it only to translate documentation examples, which this build skips.
package codegen

import (
	"errors"

	"github.com/hashicorp/hcl/v2"
	"github.com/pulumi/pulumi/pkg/v3/codegen/pcl"
)

// GenerateProgram would translate a documentation example to Pulumi YAML.
func GenerateProgram(*pcl.Program) (map[string][]byte, hcl.Diagnostics, error) {
	return nil, nil, errors.New("YAML example generation is not available in this build")
}
