package sdk

import (
	"time"

	pb "github.com/oftp2/connector/sdk/internal/proto"
)

func tsToProto(t time.Time) *pb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return &pb.Timestamp{UnixNano: t.UnixNano(), Set: true}
}

func tsFromProto(t *pb.Timestamp) time.Time {
	if t == nil || !t.Set {
		return time.Time{}
	}
	return time.Unix(0, t.UnixNano).UTC()
}

func metaToProto(m FileMeta) *pb.FileMeta {
	return &pb.FileMeta{
		Partner:                m.Partner,
		DatasetName:            m.DatasetName,
		DateTime:               tsToProto(m.DateTime),
		Ticker:                 uint32(m.Ticker),
		UserData:               m.UserData,
		Originator:             m.Originator,
		Destination:            m.Destination,
		Format:                 string(m.Format),
		RecordSize:             uint32(max(m.RecordSize, 0)),
		Size:                   m.Size,
		OriginalSize:           m.OriginalSize,
		Description:            m.Description,
		Encrypted:              m.Encrypted,
		Signed:                 m.Signed,
		Compressed:             m.Compressed,
		Enveloped:              m.Enveloped,
		CipherSuite:            uint32(max(m.CipherSuite, 0)),
		SignedReceiptRequested: m.SignedReceiptRequested,
		ObjectName:             m.ObjectName,
		Attributes:             m.Attributes,
	}
}

func metaFromProto(m *pb.FileMeta) FileMeta {
	if m == nil {
		return FileMeta{}
	}
	return FileMeta{
		Partner:                m.Partner,
		DatasetName:            m.DatasetName,
		DateTime:               tsFromProto(m.DateTime),
		Ticker:                 uint16(min(m.Ticker, 0xffff)),
		UserData:               m.UserData,
		Originator:             m.Originator,
		Destination:            m.Destination,
		Format:                 Format(m.Format),
		RecordSize:             int(m.RecordSize),
		Size:                   m.Size,
		OriginalSize:           m.OriginalSize,
		Description:            m.Description,
		Encrypted:              m.Encrypted,
		Signed:                 m.Signed,
		Compressed:             m.Compressed,
		Enveloped:              m.Enveloped,
		CipherSuite:            int(m.CipherSuite),
		SignedReceiptRequested: m.SignedReceiptRequested,
		ObjectName:             m.ObjectName,
		Attributes:             m.Attributes,
	}
}

func refToProto(r ObjectRef) *pb.ObjectRef {
	return &pb.ObjectRef{Name: r.Name, Location: r.Location, Size: r.Size, Sha256Hex: r.SHA256Hex, CommittedAt: tsToProto(r.CommittedAt)}
}

func refFromProto(r *pb.ObjectRef) ObjectRef {
	if r == nil {
		return ObjectRef{}
	}
	return ObjectRef{Name: r.Name, Location: r.Location, Size: r.Size, SHA256Hex: r.Sha256Hex, CommittedAt: tsFromProto(r.CommittedAt)}
}

func receiptToProto(r Receipt) *pb.Receipt {
	return &pb.Receipt{ReceivedAt: tsToProto(r.ReceivedAt), Reason: r.Reason, SignedEerp: r.SignedEERP}
}

func receiptFromProto(r *pb.Receipt) Receipt {
	if r == nil {
		return Receipt{}
	}
	return Receipt{ReceivedAt: tsFromProto(r.ReceivedAt), Reason: r.Reason, SignedEERP: r.SignedEerp}
}

func outgoingToProto(f OutgoingFile) *pb.OutgoingFile {
	return &pb.OutgoingFile{Id: f.ID, Meta: metaToProto(f.Meta)}
}

func outgoingFromProto(f *pb.OutgoingFile) OutgoingFile {
	if f == nil {
		return OutgoingFile{}
	}
	return OutgoingFile{ID: f.Id, Meta: metaFromProto(f.Meta)}
}
