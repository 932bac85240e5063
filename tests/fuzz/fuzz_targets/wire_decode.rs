//! The wire decoder: any frames off a socket are a message or a `WireError`, never a panic,
//! and a message the kernel signs decodes again.

#![no_main]

use bytes::Bytes;
use eddy_kernel::wire::{Message, Signer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The input is cut into frames at 0xFF, a byte no UTF-8 text holds: the fuzzer shapes the
    // number of frames and each frame's bytes.
    let frames: Vec<Bytes> = data
        .split(|&byte| byte == 0xFF)
        .map(Bytes::copy_from_slice)
        .collect();
    let signer = Signer::new(b"fuzzing key");
    let _ = Message::decode(frames.clone(), &signer);
    // Without a key no signature is checked, so the JSON frames and the header are reached.
    let unsigned = Signer::new(b"");
    if let Ok(message) = Message::decode(frames, &unsigned) {
        let again = Message::decode(message.encode(&signer), &signer)
            .expect("a message the kernel signed decodes");
        assert_eq!(again.header.msg_id, message.header.msg_id);
        assert_eq!(again.msg_type(), message.msg_type());
        assert_eq!(again.identities, message.identities);
        assert_eq!(again.buffers, message.buffers);
    }
});
