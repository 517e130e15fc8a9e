package filesec_test

import (
	"testing"

	"github.com/oftp2/connector/core/oftp/filesec"
)

func TestCompressionLevelChecked(t *testing.T) {
	for _, level := range []int{-1, 10} {
		if _, err := filesec.New(filesec.Config{CompressionLevel: level}); err == nil {
			t.Errorf("compression level %d accepted", level)
		}
	}
	for _, level := range []int{0, 1, 9} {
		if _, err := filesec.New(filesec.Config{CompressionLevel: level}); err != nil {
			t.Errorf("compression level %d: %v", level, err)
		}
	}
}
