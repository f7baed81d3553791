package zero

import (
	"strings"
	"testing"

	"github.com/gonbd/gonbd/server/servertest"
)

func TestSpecTakesNoParameters(t *testing.T) {
	if _, err := servertest.Stack(Spec(), nil); err != nil {
		t.Errorf("without parameters: %v", err)
	}
	for _, params := range [][]string{{"size=1M"}, {"foo=bar", "x=1"}} {
		_, err := servertest.Stack(Spec(), nil, params...)
		if err == nil {
			t.Errorf("%q: accepted, want an error", params)
			continue
		}
		if !strings.Contains(err.Error(), "takes no parameters") || !strings.Contains(err.Error(), params[0]) {
			t.Errorf("%q: error %q does not say the plugin takes no parameters, naming them", params, err)
		}
	}
}

func TestSpecDescribesThePlugin(t *testing.T) {
	spec := Spec()
	if spec.Name != "zero" || spec.MagicConfigKey != "" || spec.Version == "" || spec.Description == "" {
		t.Errorf("incomplete spec: %+v", spec)
	}
}
