package e2e

import (
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// A proxy on the host reaches the published port from the compose network's
// gateway: compose.yaml must trust exactly that address, or every phone
// shares one rate-limit bucket (issue 13 point 4).
func TestDeployComposeTrustsItsNetworkGateway(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(dpRoot, "deploy/compose/compose.yaml"))
	require.NoError(t, err)
	var compose struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
		}
		Networks map[string]struct {
			IPAM struct {
				Config []struct{ Subnet, Gateway string }
			} `yaml:"ipam"`
		}
	}
	require.NoError(t, yaml.Unmarshal(raw, &compose))
	cfg := compose.Networks["default"].IPAM.Config
	require.Len(t, cfg, 1, "the default network has a fixed subnet")
	subnet, err := netip.ParsePrefix(cfg[0].Subnet)
	require.NoError(t, err)
	gw, err := netip.ParseAddr(cfg[0].Gateway)
	require.NoError(t, err)
	assert.True(t, subnet.Contains(gw))

	v := compose.Services["alga-mobile-auth"].Environment["ALGA_MOBILE_TRUSTED_PROXIES"]
	m := regexp.MustCompile(`^\$\{ALGA_MOBILE_TRUSTED_PROXIES:-([^}]+)\}$`).FindStringSubmatch(v)
	require.NotNil(t, m, "overridable from .env, with a default: %q", v)
	assert.Equal(t, gw.String(), m[1], "the default is the network's gateway")
}
