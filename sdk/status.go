package sdk

import (
	"context"
	"errors"
	"io"

	pb "github.com/oftp2/connector/sdk/internal/proto"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrConnection reports that the connection to a plugin broke (the process
// died or the transport failed). It is retryable: the connector restarts the
// plugin on the next call.
var ErrConnection = errors.New("lost connection to plugin")

// toStatus turns a plugin's error into a gRPC status that carries its advice,
// kind and attribute.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok && !hasAdvice(err) {
		// Already a status (from a nested gRPC call, for example).
		return err
	}
	d := &pb.ErrorDetail{Message: err.Error()}
	code := codes.Unknown
	switch AdviceOf(err) {
	case AdviceRetry:
		d.Advice = pb.ErrorDetail_ADVICE_RETRYABLE
		code = codes.Unavailable
	case AdvicePermanent:
		d.Advice = pb.ErrorDetail_ADVICE_PERMANENT
		code = codes.FailedPrecondition
	}
	var ce *ConfigError
	switch {
	case errors.As(err, &ce):
		d.Kind, d.Attribute, d.Message = pb.ErrorDetail_KIND_CONFIG, ce.Attribute, ce.Message
		code = codes.InvalidArgument
	case errors.Is(err, ErrExists):
		d.Kind, code = pb.ErrorDetail_KIND_EXISTS, codes.AlreadyExists
	case errors.Is(err, ErrNotFound):
		d.Kind, code = pb.ErrorDetail_KIND_NOT_FOUND, codes.NotFound
	case errors.Is(err, ErrNotConfigured):
		d.Kind, code = pb.ErrorDetail_KIND_NOT_CONFIGURED, codes.FailedPrecondition
	case errors.Is(err, ErrUnsupported):
		d.Kind, code = pb.ErrorDetail_KIND_UNSUPPORTED, codes.Unimplemented
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	}
	st, serr := status.New(code, d.Message).WithDetails(d)
	if serr != nil {
		return status.Error(code, d.Message)
	}
	return st.Err()
}

func hasAdvice(err error) bool {
	var a adviser
	return errors.As(err, &a)
}

// fromStatus turns a gRPC error from a plugin call back into the plugin's
// error. ctx is the call's context: a cancelled call reports ctx.Err().
func fromStatus(ctx context.Context, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &RemoteError{Message: err.Error(), Advice: AdviceRetry, kind: ErrConnection}
	}
	for _, det := range st.Details() {
		d, ok := det.(*pb.ErrorDetail)
		if !ok {
			continue
		}
		advice := AdviceUnknown
		switch d.Advice {
		case pb.ErrorDetail_ADVICE_RETRYABLE:
			advice = AdviceRetry
		case pb.ErrorDetail_ADVICE_PERMANENT:
			advice = AdvicePermanent
		}
		var kind error
		switch d.Kind {
		case pb.ErrorDetail_KIND_CONFIG:
			ce := &ConfigError{Attribute: d.Attribute, Message: d.Message}
			if advice == AdviceRetry {
				return Retryable(ce)
			}
			return ce
		case pb.ErrorDetail_KIND_EXISTS:
			kind = ErrExists
		case pb.ErrorDetail_KIND_NOT_FOUND:
			kind = ErrNotFound
		case pb.ErrorDetail_KIND_NOT_CONFIGURED:
			kind = ErrNotConfigured
		case pb.ErrorDetail_KIND_UNSUPPORTED:
			kind = ErrUnsupported
		default:
			switch st.Code() {
			case codes.Canceled:
				kind = context.Canceled
			case codes.DeadlineExceeded:
				kind = context.DeadlineExceeded
			}
		}
		return &RemoteError{Message: d.Message, Advice: advice, kind: kind}
	}
	switch st.Code() {
	case codes.Canceled, codes.DeadlineExceeded:
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if st.Code() == codes.Canceled {
			return &RemoteError{Message: st.Message(), Advice: AdviceRetry, kind: context.Canceled}
		}
		return &RemoteError{Message: st.Message(), Advice: AdviceRetry, kind: context.DeadlineExceeded}
	case codes.Unavailable, codes.Internal, codes.Aborted, codes.ResourceExhausted:
		// Transport failures: the process died or the connection broke.
		return &RemoteError{Message: "plugin connection: " + st.Message(), Advice: AdviceRetry, kind: ErrConnection}
	case codes.Unimplemented:
		return &RemoteError{Message: st.Message(), Advice: AdvicePermanent, kind: ErrUnsupported}
	}
	return &RemoteError{Message: st.Message()}
}
