package client_test

import (
	"fmt"

	"github.com/gonbd/gonbd/protocol/client"
)

func ExampleParseURI() {
	u, err := client.ParseURI("nbd+unix:///my%20disk?socket=/run/nbd.sock")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("export %q on %s %s, TLS %v\n", u.Export, u.Network(), u.Address(), u.TLS())

	u, _ = client.ParseURI("nbds://example.com/disk")
	fmt.Printf("export %q on %s %s, TLS %v\n", u.Export, u.Network(), u.Address(), u.TLS())

	u.Port = "10810"
	fmt.Println(u)
	// Output:
	// export "my disk" on unix /run/nbd.sock, TLS false
	// export "disk" on tcp example.com:10809, TLS true
	// nbds://example.com:10810/disk
}
