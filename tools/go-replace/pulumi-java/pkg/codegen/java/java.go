// Package java stands in for pulumi-java's code generator, which the module proxy refuses. Only
// what the providers built here reference is defined: the package metadata they write into their
// schema (same JSON names as upstream, so the schema is unchanged) and the example translator,
// which is never called because schemas are generated without examples.
package java

import (
	"errors"

	"github.com/hashicorp/hcl/v2"
	"github.com/pulumi/pulumi/pkg/v3/codegen/pcl"
)

// PackageInfo is the Java section of a provider schema's `language` map.
type PackageInfo struct {
	Packages                        map[string]string `json:"packages,omitempty"`
	BasePackage                     string            `json:"basePackage"`
	BuildFiles                      string            `json:"buildFiles"`
	Dependencies                    map[string]string `json:"dependencies,omitempty"`
	GradleNexusPublishPluginVersion string            `json:"gradleNexusPublishPluginVersion"`
	GradleTest                      string            `json:"gradleTest"`
}

// GenerateProgram would translate a documentation example to Java.
func GenerateProgram(*pcl.Program) (map[string][]byte, hcl.Diagnostics, error) {
	return nil, nil, errors.New("Java example generation is not available in this build")
}
