package reports

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// AsOf makes a report Func of a report on a day (p.AsOf, "YYYY-MM-DD")
// with a result of its own type, such as invoicing's aged receivables and
// payables, so that the API's report wrapper caches and serves it:
//
//	s.report("aged-receivables", reports.AsOf(invoicing.AgedReceivables))
func AsOf[R any](fn func(ctx context.Context, tx pgx.Tx, asOf string) (R, Table, error)) Func {
	return func(ctx context.Context, tx pgx.Tx, p Params) (any, Table, error) {
		return result(fn(ctx, tx, p.AsOf.Format(dateLayout)))
	}
}

// Period makes a report Func of a report over a period (p.From..p.To),
// such as invoicing's VAT return:
//
//	s.report("vat-return", reports.Period(invoicing.VATReturnFor))
func Period[R any](fn func(ctx context.Context, tx pgx.Tx, from, to string) (R, Table, error)) Func {
	return func(ctx context.Context, tx pgx.Tx, p Params) (any, Table, error) {
		return result(fn(ctx, tx, p.From.Format(dateLayout), p.To.Format(dateLayout)))
	}
}

func result[R any](v R, t Table, err error) (any, Table, error) {
	if err != nil {
		return nil, Table{}, err
	}
	return v, t, nil
}
