package appliance

import (
	"net/url"

	"github.com/vanta-ledger/vanta/internal/ai"
)

// ModelEndpoints are the model servers the document router may use: the
// local llama-servers the supervisor runs (llama-<model>, disabled ones
// left out) and the configured remote ones (VANTA_LLM_URLS), whose model
// is known only by its address. The router asks each for /health itself,
// so a server that is down or restarting is skipped, not an error.
func (a *Appliance) ModelEndpoints() []ai.Endpoint {
	a.catalog.llamaMu.Lock()
	eps := append([]ai.Endpoint(nil), a.catalog.llamaEndpoints...)
	a.catalog.llamaMu.Unlock()
	return append(eps, remoteEndpoints(a.cfg.LLMURLs)...)
}

// remoteEndpoints makes endpoints of validated base URLs. With no header
// to read, the model is named after the host and its size and context are
// unknown (0): the router then tries it after the local models of known
// size and does not refuse long documents on its behalf.
func remoteEndpoints(urls []string) []ai.Endpoint {
	var eps []ai.Endpoint
	for _, u := range urls {
		p, err := url.Parse(u)
		if err != nil {
			continue // validated with the config
		}
		eps = append(eps, ai.Endpoint{Model: ai.Model{Name: "remote-" + ai.SafeName(p.Host)}, URL: u})
	}
	return eps
}
