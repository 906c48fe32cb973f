-- Cost of calls not billed purely by text tokens: what each was billed by gets its own column, so
-- `gatelog reprice` can price it again. input_image_tokens is a part of input_tokens (gpt-image
-- models' image input, priced at its own rate); audio_seconds is the audio a Whisper call
-- transcribed or translated; input_characters the text a speech call turned into audio; images
-- the images an images call answered, with the size and quality asked for ('' = the model's
-- default, or not an images call). All 0 / '' for rows written before this migration and for
-- every call billed by tokens alone.
ALTER TABLE {db}.llm_calls ADD COLUMN IF NOT EXISTS input_image_tokens UInt32 DEFAULT 0 AFTER output_audio_tokens;
ALTER TABLE {db}.llm_calls ADD COLUMN IF NOT EXISTS audio_seconds Float64 DEFAULT 0 AFTER input_image_tokens;
ALTER TABLE {db}.llm_calls ADD COLUMN IF NOT EXISTS input_characters UInt32 DEFAULT 0 AFTER audio_seconds;
ALTER TABLE {db}.llm_calls ADD COLUMN IF NOT EXISTS images UInt32 DEFAULT 0 AFTER input_characters;
ALTER TABLE {db}.llm_calls ADD COLUMN IF NOT EXISTS image_size LowCardinality(String) DEFAULT '' AFTER images;
ALTER TABLE {db}.llm_calls ADD COLUMN IF NOT EXISTS image_quality LowCardinality(String) DEFAULT '' AFTER image_size;
