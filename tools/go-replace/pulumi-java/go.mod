// Stand-in for github.com/pulumi/pulumi-java (refused by the module proxy): see ../README.md.
module github.com/pulumi/pulumi-java

go 1.23

require (
	github.com/hashicorp/hcl/v2 v2.22.0
	github.com/pulumi/pulumi/pkg/v3 v3.200.0
)
