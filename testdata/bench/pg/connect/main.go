// Command connect is the floor of a keyctl command on a keyring in
// PostgreSQL, for testdata/bench/pg/whole.sh: a static Go process that
// connects as keyctl does (pgx, the same settings), runs SELECT 1 and
// exits. What a command takes beyond it is keyctl's own work.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/jackc/pgx/v5"
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
	cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	cfg.RuntimeParams["application_name"] = "keyctl"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var one int
	return conn.QueryRow(ctx, "SELECT 1").Scan(&one)
}
