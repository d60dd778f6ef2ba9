// Command connect is the floor of a keyctl command on a keyring in
// PostgreSQL, for testdata/bench/pg/whole.sh: a static Go process that
// connects as a keyctl load does (pgx's configuration, pgconn's
// connection, no type map), runs SELECT 1 and exits. What a command takes
// beyond it is keyctl's own work.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: connect POSTGRES-URI")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "connect:", err)
		os.Exit(1)
	}
}

func run(uri string) error {
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(uri)
	if err != nil {
		return err
	}
	cfg.RuntimeParams["application_name"] = "keyctl"
	conn, err := pgconn.ConnectConfig(ctx, &cfg.Config)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	res := conn.ExecParams(ctx, "SELECT 1", nil, nil, nil, []int16{1}).Read()
	if res.Err != nil {
		return res.Err
	}
	if len(res.Rows) != 1 {
		return fmt.Errorf("SELECT 1 returned %d rows", len(res.Rows))
	}
	return nil
}
